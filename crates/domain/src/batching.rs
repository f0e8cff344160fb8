use serde::{Deserialize, Serialize};

/// Dynamic batching of one version: concurrent requests are run as one inference of at most
/// `max_batch_size` rows, the first waiting at most `max_queue_delay_ms` for companions (0: no
/// wait, a batch is what queued while the sessions were busy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchPolicy {
    pub max_batch_size: u32,
    pub max_queue_delay_ms: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchPolicyError {
    #[error("max_batch_size must be between 2 and {limit}, not {actual}")]
    BatchSize { limit: u32, actual: u32 },
    #[error("max_queue_delay_ms must be at most {limit}, not {actual}")]
    Delay { limit: u32, actual: u32 },
}

impl BatchPolicy {
    pub const MAX_BATCH_SIZE: u32 = 1024;
    pub const MAX_DELAY_MS: u32 = 1000;

    pub fn validate(&self) -> Result<(), BatchPolicyError> {
        if !(2..=Self::MAX_BATCH_SIZE).contains(&self.max_batch_size) {
            return Err(BatchPolicyError::BatchSize { limit: Self::MAX_BATCH_SIZE, actual: self.max_batch_size });
        }
        if self.max_queue_delay_ms > Self::MAX_DELAY_MS {
            return Err(BatchPolicyError::Delay { limit: Self::MAX_DELAY_MS, actual: self.max_queue_delay_ms });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_enforced() {
        assert!(BatchPolicy { max_batch_size: 16, max_queue_delay_ms: 2 }.validate().is_ok());
        assert!(BatchPolicy { max_batch_size: 1, max_queue_delay_ms: 2 }.validate().is_err());
        assert!(BatchPolicy { max_batch_size: 4096, max_queue_delay_ms: 2 }.validate().is_err());
        assert!(BatchPolicy { max_batch_size: 8, max_queue_delay_ms: 5000 }.validate().is_err());
    }
}
