"""aicrm.nlp: text analytics in English and Chinese — language, sentiment, topics, personal data, surveys."""

from aicrm.nlp.analyse import analyse_feedback, feedback_by_customer, feedback_by_month
from aicrm.nlp.embeddings import encode_sentences, get_sentence_encoder
from aicrm.nlp.language import detect_language, detect_languages
from aicrm.nlp.pii import PiiDetector, find_pii, mask_pii
from aicrm.nlp.sentiment import SentimentClassifier, evaluate_sentiment, score_sentiment
from aicrm.nlp.survey import csat, dissatisfaction_drivers, nps
from aicrm.nlp.topics import TopicModel

__all__ = [
    "PiiDetector",
    "SentimentClassifier",
    "TopicModel",
    "analyse_feedback",
    "csat",
    "detect_language",
    "detect_languages",
    "dissatisfaction_drivers",
    "encode_sentences",
    "evaluate_sentiment",
    "feedback_by_customer",
    "feedback_by_month",
    "find_pii",
    "get_sentence_encoder",
    "mask_pii",
    "nps",
    "score_sentiment",
]
