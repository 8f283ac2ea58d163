"""X's DM media host, ``ton.twitter.com``, for the X emulator.

A picture in a direct message is not public: X serves it only to a GET signed with OAuth
1.0a user context (developer.x.com, "Retrieving media" of Direct Messages); the emulator
checks the signature with :func:`~sportello.connectors.emulators.x_oauth.signed_by`.
"""

TON = "https://ton.twitter.com"
DM_MEDIA_PATH = "/1.1/ton/data/dm/"
