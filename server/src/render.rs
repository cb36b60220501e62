//! Panel images on the server: the browser's plotters drawing (`app::panel_draw`) on a bitmap,
//! encoded as PNG, or as a standalone SVG. No browser is involved.

use app::api::dashboard::Panel;
use app::panel_draw::{draw_titled, Ink, PanelData};
use plotters::backend::BitMapBackend;

/// Where a font is looked for when the settings name none.
const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
];

/// Loads the font panel images are drawn with (`configured`, else the first system font found)
/// and registers it for the shared drawing code; returns the file used. Once per process.
pub fn load_font(configured: Option<&std::path::Path>) -> Result<String, String> {
    static LOADED: std::sync::OnceLock<Result<String, String>> = std::sync::OnceLock::new();
    LOADED
        .get_or_init(|| {
            let configured = configured.map(|p| p.display().to_string());
            let candidates: Vec<&str> = configured
                .as_deref()
                .into_iter()
                .chain(FONT_PATHS.iter().copied())
                .collect();
            for path in &candidates {
                if let Ok(bytes) = std::fs::read(path) {
                    app::chart::register_font(Box::leak(bytes.into_boxed_slice()))
                        .map_err(|e| format!("{path}: {e}"))?;
                    return Ok(path.to_string());
                }
            }
            Err(format!(
                "no font to draw panel images with: install fonts-dejavu-core or set PORTAL_FONT (looked in {})",
                candidates.join(", ")
            ))
        })
        .clone()
}

/// Largest image side, in pixels.
pub const MAX_SIDE: u32 = 4000;

/// Draws `panel` (under `title`) as a PNG of `width`×`height`.
pub fn png(
    panel: &Panel,
    title: Option<&str>,
    data: &PanelData,
    (width, height): (u32, u32),
    dark: bool,
) -> Result<Vec<u8>, String> {
    let mut pixels = vec![0u8; width as usize * height as usize * 3];
    {
        let backend = BitMapBackend::with_buffer(&mut pixels, (width, height));
        draw_titled(backend, panel, title, data, Ink::fixed(dark))?;
    }
    let mut out = Vec::with_capacity(pixels.len() / 8);
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    // Charts are flat colours: fast compression is nearly as small and several times quicker.
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer
        .write_image_data(&pixels)
        .map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(out)
}

/// Draws `panel` as a standalone SVG document (fixed colours, for use outside the portal).
pub fn svg(
    panel: &Panel,
    title: Option<&str>,
    data: &PanelData,
    size: (u32, u32),
    dark: bool,
) -> Result<String, String> {
    app::panel_draw::svg_inked(panel, title, data, size, Ink::fixed(dark))
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::api::dashboard::{GridPos, PanelKind};
    use app::chart::Line;

    #[test]
    fn panels_encode_as_png() {
        let panel = Panel {
            title: "x".into(),
            ..Panel::new(
                1,
                PanelKind::Timeseries,
                GridPos {
                    x: 0,
                    y: 0,
                    w: 12,
                    h: 8,
                },
            )
        };
        let lines = (0..10)
            .map(|i| Line {
                label: format!("s{i}"),
                color: i,
                points: (0..1000)
                    .map(|t| (t * 1000, ((t + i as i64) as f64).sin()))
                    .collect(),
            })
            .collect();
        let data = PanelData {
            lines,
            from: 0,
            to: 999_000,
            step: 1000,
        };
        load_font(None).expect("a system font");
        let clock = std::time::Instant::now();
        let bytes = png(&panel, Some("Title"), &data, (800, 300), false).unwrap();
        let took = clock.elapsed();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        let decoder = png::Decoder::new(std::io::Cursor::new(&bytes));
        let reader = decoder.read_info().unwrap();
        assert_eq!((reader.info().width, reader.info().height), (800, 300));
        eprintln!(
            "800x300, 10 x 1000 points: {} bytes in {took:?}",
            bytes.len()
        );
        assert!(svg(&panel, None, &data, (800, 300), true)
            .unwrap()
            .contains("<svg"));
    }
}
