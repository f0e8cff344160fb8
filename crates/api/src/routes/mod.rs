//! The handlers, one module per resource.

pub mod audit;
pub mod deployments;
pub mod health;
pub mod models;
pub mod oip;
pub mod predict;
pub mod versions;

use depot_catalog::PageRequest;

pub(crate) fn page(limit: Option<u32>, cursor: Option<String>) -> Result<PageRequest, crate::error::ApiError> {
    if let Some(limit) = limit
        && !(1..=PageRequest::MAX_LIMIT).contains(&limit)
    {
        return Err(crate::error::ApiError::invalid(format!(
            "limit must be between 1 and {}, not {limit}",
            PageRequest::MAX_LIMIT
        )));
    }
    Ok(PageRequest { limit: limit.unwrap_or(PageRequest::DEFAULT_LIMIT), cursor })
}
