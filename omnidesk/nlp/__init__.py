"""Language tools for the answer bot and knowledge search: language, embeddings, sentiment.

Everything runs offline on the CPU; models are loaded on first use. See docs/nlp.md.
"""

from omnidesk.nlp.embeddings import DIMENSION, MODEL_NAME, embed
from omnidesk.nlp.language import detect_language
from omnidesk.nlp.sentiment import NEGATIVE_THRESHOLD, is_negative, sentiment

__all__ = [
    "DIMENSION",
    "MODEL_NAME",
    "NEGATIVE_THRESHOLD",
    "detect_language",
    "embed",
    "is_negative",
    "sentiment",
]
