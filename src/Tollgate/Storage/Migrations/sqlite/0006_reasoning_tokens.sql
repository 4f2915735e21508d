-- Completion tokens a model spent reasoning (Anthropic's thinking, OpenAI's reasoning tokens): part of
-- completion_tokens, kept apart so /generation and the dashboard can show them. Earlier calls had none.
ALTER TABLE usage_records ADD COLUMN reasoning_tokens INTEGER NOT NULL DEFAULT 0;
