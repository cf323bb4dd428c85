"""Short summaries of news stories: extraction, cleaning, lead-biased selection."""

from bot.summaries.description import clean_description, prefer_description
from bot.summaries.extract import extract_main_text, has_full_story
from bot.summaries.extractive import lead_baseline, summarize_html, summarize_text
from bot.summaries.llm import LlmSummarizer
from bot.summaries.sentences import split_sentences

__all__ = [
    "LlmSummarizer",
    "clean_description",
    "extract_main_text",
    "has_full_story",
    "lead_baseline",
    "prefer_description",
    "split_sentences",
    "summarize_html",
    "summarize_text",
]
