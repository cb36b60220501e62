//! A chart of an alert's query around the time it fired, drawn by the panel-image pipeline and
//! reached through a signed link that expires: it opens in a chat tool without signing in, and
//! shows only that image. The link is `/api/alerting/images/<rule>.<at>.<expires>.<sig>.png`
//! where `sig` is an HMAC-SHA256 (first 16 bytes) of the rest under a secret kept in PostgreSQL.

use super::super::Alerting;
use crate::{
    dashboards::image::{draw_panel, ImageFormat, ImageRequest, PanelRef},
    error::ApiError,
    query::QueryRange,
    store::alerting as db,
};
use app::api::{
    alerting::is_rule_uid,
    dashboard::{Dashboard, GridPos, Panel, PanelKind, Target, Threshold},
};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How long an image link works.
pub const LINK_LIFETIME: chrono::Duration = chrono::Duration::days(30);
/// The chart shows this long before the alert's time, and a quarter of it after.
const WINDOW_MS: i64 = 3_600_000;
const SECRET: &str = "alert-image-links";

fn signature(secret: &[u8], payload: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(payload.as_bytes());
    let bytes = mac.finalize().into_bytes();
    bytes[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// The token of a link to the chart of rule `uid` at `at_ms`, valid until `expires` (s).
pub fn token(secret: &[u8], uid: &str, at_ms: i64, expires: i64) -> String {
    let payload = format!("{uid}.{at_ms}.{expires}");
    format!("{payload}.{}", signature(secret, &payload))
}

/// Reads and checks a token: the rule and the time, when the signature holds and it has not
/// expired. Every failure is the same "not found", so a token cannot be probed.
pub fn verify(secret: &[u8], token: &str, now_s: i64) -> Option<(String, i64)> {
    let (payload, sig) = token.rsplit_once('.')?;
    let expected = signature(secret, payload);
    // Constant-time comparison.
    if sig.len() != expected.len()
        || sig
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            != 0
    {
        return None;
    }
    let mut fields = payload.split('.');
    let uid = fields.next()?;
    let at: i64 = fields.next()?.parse().ok()?;
    let expires: i64 = fields.next()?.parse().ok()?;
    (is_rule_uid(uid) && fields.next().is_none() && expires >= now_s).then(|| (uid.to_string(), at))
}

impl Alerting {
    /// The key image links are signed with.
    pub async fn image_secret(&self) -> Result<Vec<u8>, ApiError> {
        Ok(db::secret(&self.pool, SECRET).await?)
    }

    /// The signed link to the chart of rule `uid` at `at_ms`.
    pub fn image_link(&self, secret: &[u8], uid: &str, at_ms: i64) -> String {
        let expires = (chrono::Utc::now() + LINK_LIFETIME).timestamp();
        format!(
            "{}/api/alerting/images/{}.png",
            self.external_url,
            token(secret, uid, at_ms, expires)
        )
    }

    /// Draws the chart a signed link names.
    pub async fn image(&self, file: &str) -> Result<Vec<u8>, ApiError> {
        let not_found = || ApiError::not_found("no such image, or its link has expired");
        let token = file.strip_suffix(".png").ok_or_else(not_found)?;
        let secret = db::secret(&self.pool, SECRET).await?;
        let (uid, at) =
            verify(&secret, token, chrono::Utc::now().timestamp()).ok_or_else(not_found)?;
        let row = db::select_rule(&self.pool, &uid)
            .await?
            .ok_or_else(not_found)?;
        let rule = super::super::rule_of(&row);
        let mut panel = Panel::new(
            1,
            PanelKind::Timeseries,
            GridPos {
                x: 0,
                y: 0,
                w: 24,
                h: 8,
            },
        );
        panel.title = rule.name.clone();
        panel.targets = vec![Target {
            expr: rule.query.clone(),
            legend: String::new(),
            instant: false,
        }];
        let lines = rule.condition.lines();
        if !lines.is_empty() {
            panel.options.thresholds = std::iter::once(Threshold {
                value: None,
                color: "green".into(),
            })
            .chain(lines.iter().map(|v| Threshold {
                value: Some(*v),
                color: "red".into(),
            }))
            .collect();
            panel.options.threshold_style = "line".into();
        }
        let mut dashboard = Dashboard::new(rule.name.clone());
        dashboard.uid = format!("alert-{uid}");
        dashboard.panels = vec![panel];
        let end = (at + WINDOW_MS / 4).min(chrono::Utc::now().timestamp_millis().max(at));
        let start = at - WINDOW_MS;
        let request = ImageRequest {
            range: QueryRange::new(start, end, ((end - start) / 600).max(1000))?,
            size: (800, 320),
            dark: false,
            requested: Default::default(),
        };
        let image = draw_panel(
            &self.queries,
            &dashboard,
            PanelRef::Id(1),
            ImageFormat::Png,
            &request,
            false,
        )
        .await?;
        Ok(image.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_until_they_expire_and_not_when_changed() {
        let secret = b"secret";
        let t = token(secret, "fleet-queue", 1_000, 2_000);
        assert_eq!(
            verify(secret, &t, 1_999),
            Some(("fleet-queue".into(), 1_000))
        );
        assert_eq!(verify(secret, &t, 2_001), None, "expired");
        assert_eq!(verify(b"other", &t, 1_000), None);
        let forged = t.replace("fleet-queue.1000", "fleet-queue.5000");
        assert_eq!(verify(secret, &forged, 1_000), None);
        assert_eq!(verify(secret, "garbage", 0), None);
    }
}
