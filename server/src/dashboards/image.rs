//! The panel-image pipeline: a dashboard's panel, a time range and a selection of variables →
//! the panel's queries → the shared plotters drawing → PNG or SVG. Used for image links, link
//! previews, public links and (next) alert notifications; nothing here knows about HTTP.

use super::query::{panel_series, resolve_selection, Selection};
use crate::{error::ApiError, query::QueryRange, query::QueryService, render};
use app::api::dashboard::{Dashboard, Panel};
use app::chart::Line;
use app::panel_draw::PanelData;

/// The image formats a panel is drawn in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageFormat {
    Png,
    Svg,
}

impl ImageFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Svg => "image/svg+xml",
        }
    }
}

/// Which panel: its id, or the dashboard's preview (the first panel that queries).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PanelRef {
    Id(u32),
    Preview,
}

/// What to draw: the range, the size in pixels, the theme and the variables asked for.
#[derive(Clone, Debug)]
pub struct ImageRequest {
    pub range: QueryRange,
    pub size: (u32, u32),
    pub dark: bool,
    pub requested: Selection,
}

/// A drawn image.
pub struct Image {
    pub format: ImageFormat,
    pub bytes: Vec<u8>,
}

/// Reads an image file name: `<panel id>.png|.svg` or `preview.png|.svg`.
pub fn parse_file_name(file: &str) -> Result<(PanelRef, ImageFormat), ApiError> {
    let (stem, format) = match (file.strip_suffix(".png"), file.strip_suffix(".svg")) {
        (Some(stem), _) => (stem, ImageFormat::Png),
        (_, Some(stem)) => (stem, ImageFormat::Svg),
        _ => {
            return Err(ApiError::not_found(format!(
                "no image \"{file}\"; ask for <panel id>.png or .svg"
            )))
        }
    };
    let panel = if stem == "preview" {
        PanelRef::Preview
    } else {
        PanelRef::Id(
            stem.parse()
                .map_err(|_| ApiError::not_found(format!("\"{stem}\" is not a panel id")))?,
        )
    };
    Ok((panel, format))
}

fn find_panel(dashboard: &Dashboard, which: PanelRef) -> Result<Panel, ApiError> {
    let panel = match which {
        PanelRef::Preview => dashboard.panels.iter().find(|p| p.kind.queries()),
        PanelRef::Id(id) => dashboard.panel(id),
    };
    panel.cloned().ok_or_else(|| {
        let name = match which {
            PanelRef::Preview => "preview".to_string(),
            PanelRef::Id(id) => id.to_string(),
        };
        ApiError::not_found(format!(
            "dashboard \"{}\" has no panel \"{name}\"",
            dashboard.uid
        ))
    })
}

/// Draws panel `which` of `dashboard`. With `strict`, every variable value asked for must be
/// one of the variable's options (public links); otherwise stale values are dropped.
pub async fn draw_panel(
    queries: &QueryService,
    dashboard: &Dashboard,
    which: PanelRef,
    format: ImageFormat,
    request: &ImageRequest,
    strict: bool,
) -> Result<Image, ApiError> {
    let panel = find_panel(dashboard, which)?;
    let selection = resolve_selection(queries, dashboard, &request.requested, strict).await?;
    let series = if panel.kind.queries() {
        panel_series(queries, &panel, &selection, request.range).await?
    } else {
        Vec::new()
    };
    let data = PanelData {
        lines: series
            .into_iter()
            .enumerate()
            .map(|(i, s)| Line {
                label: s.name,
                color: i,
                points: s.points,
            })
            .collect(),
        from: request.range.start,
        to: request.range.end,
        step: request.range.step,
    };
    let (size, dark) = (request.size, request.dark);
    let title = app::dashboard::interpolate_text(&panel.title, &selection);
    // Drawing is CPU work: off the async threads.
    let bytes = tokio::task::spawn_blocking(move || {
        let title = Some(title.as_str());
        match format {
            ImageFormat::Png => render::png(&panel, title, &data, size, dark),
            ImageFormat::Svg => {
                render::svg(&panel, title, &data, size, dark).map(String::into_bytes)
            }
        }
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))?
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("drawing the panel failed: {e}")))?;
    Ok(Image { format, bytes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_file_names_name_a_panel_and_a_format() {
        assert_eq!(
            parse_file_name("7.png").unwrap(),
            (PanelRef::Id(7), ImageFormat::Png)
        );
        assert_eq!(
            parse_file_name("preview.svg").unwrap(),
            (PanelRef::Preview, ImageFormat::Svg)
        );
        assert!(parse_file_name("7.gif").is_err());
        assert!(parse_file_name("seven.png").is_err());
    }
}
