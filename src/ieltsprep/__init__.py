"""IELTS GenAI Prep: AI-graded IELTS mock assessments, serverless on AWS and offline on a laptop."""

__version__ = "0.1.0"
