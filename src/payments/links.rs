//! The links themselves: each (subscription, end date) gets one token,
//! created the first time a reminder or the "renovar" reply is rendered
//! for it, and the same link every time after.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};

use super::token::{link_url, new_token};
use crate::config::Config;
use crate::store::{Store, StoreResult};

/// The links (`AVISA_PUBLIC_URL/pagar/{token}`) of these (subscription,
/// end date) pairs, created if new, in order; empty strings when no
/// provider is set, so templates print nothing.
pub async fn links_for(
    store: &dyn Store,
    config: &Config,
    subscriptions: &[(i64, NaiveDate)],
    now: DateTime<Utc>,
) -> StoreResult<Vec<String>> {
    let (Some(_), Some(public_url)) = (config.payments.provider, config.public_url.as_ref()) else {
        return Ok(vec![String::new(); subscriptions.len()]);
    };
    let wanted: Vec<(i64, NaiveDate, String)> = subscriptions
        .iter()
        .map(|(id, end)| (*id, *end, new_token()))
        .collect();
    let tokens = store.payment_link_tokens(&wanted, now).await?;
    Ok(tokens.iter().map(|t| link_url(public_url, t)).collect())
}

/// [`links_for`] as a map from subscription id (its end date being the
/// one given), for rendering many messages.
pub async fn link_map(
    store: &dyn Store,
    config: &Config,
    subscriptions: &[(i64, NaiveDate)],
    now: DateTime<Utc>,
) -> StoreResult<HashMap<i64, String>> {
    if config.payments.provider.is_none() {
        return Ok(HashMap::new());
    }
    let links = links_for(store, config, subscriptions, now).await?;
    Ok(subscriptions.iter().map(|(id, _)| *id).zip(links).collect())
}
