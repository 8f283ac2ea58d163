"""The three sentiment labels every analyzer, the API and the inbox share."""

from typing import Literal

Label = Literal["positive", "neutral", "negative"]
