-- Opt-in dynamic batching per version: {"max_batch_size": N, "max_queue_delay_ms": M}, or NULL.
ALTER TABLE versions ADD COLUMN batching JSONB;
