"""Local HTTP emulators of each platform's API, for the tests and the demo."""
