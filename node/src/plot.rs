//! PNG charts for reports: line charts (one or more panels stacked in one image) and grouped bar charts on a
//! log axis.
//!
//! Drawn with `plotters`' bitmap backend; text is rendered by `ab_glyph` with DejaVu Sans embedded in the
//! binary (the `dejavu` crate), so nothing is read from the system (no fontconfig, no font files).
//!
//! ```no_run
//! use nao::plot::{line_chart, log_bars, LineChart, Series};
//! # fn main() -> nao::plot::Result<()> {
//! let chart = LineChart {
//!     title: "time per prompt length".into(),
//!     x_label: "tokens".into(),
//!     y_label: "ms".into(),
//!     series: vec![Series { name: "plain".into(), points: vec![(16.0, 40.0), (32.0, 70.0)] }],
//!     reference: None,
//! };
//! line_chart("time.png", "SmolLM2", &[chart])?;
//! let kinds = vec!["matmul".to_string(), "softmax".to_string()];
//! log_bars("err.png", "error vs bound", &kinds, &[("p99".into(), vec![1e-7, 3e-8]), ("bound".into(), vec![1e-5, 1e-6])])?;
//! # Ok(()) }
//! ```

use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::register_font;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Why a chart could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The embedded font could not be parsed (never expected: it is compiled in).
    #[error("the embedded font could not be loaded")]
    Font,
    /// Nothing to draw, or data the chart cannot show (e.g. no positive value on a log axis).
    #[error("nothing to plot: {0}")]
    Empty(String),
    /// The drawing backend failed (e.g. the PNG could not be written).
    #[error("drawing {path}: {message}")]
    Draw {
        /// The image being written.
        path: String,
        /// What the backend said.
        message: String,
    },
}

/// Result of the chart functions.
pub type Result<T> = std::result::Result<T, PlotError>;

/// Image size of one panel, pixels.
const PANEL: (u32, u32) = (900, 420);
/// Height of the title band above the panels.
const TITLE_BAND: u32 = 40;

static FONT: OnceLock<bool> = OnceLock::new();

/// Registers the embedded DejaVu Sans as plotters' "sans-serif" (once per process).
fn fonts() -> Result<()> {
    let ok = *FONT.get_or_init(|| {
        register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular()).is_ok()
            && register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold()).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(PlotError::Font)
    }
}

/// What the backend said, as text (its error types are generic over the backend).
fn msg(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn drawn(path: &Path, r: std::result::Result<(), String>) -> Result<()> {
    r.map_err(|message| PlotError::Draw { path: path.display().to_string(), message })
}

/// One named line: `(x, y)` points in x order.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend entry.
    pub name: String,
    /// The points.
    pub points: Vec<(f64, f64)>,
}

/// One panel of [`line_chart`]: linear axes, one line with markers per series, an optional dashed horizontal
/// reference line (a goal).
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    /// Panel caption.
    pub title: String,
    /// X axis label.
    pub x_label: String,
    /// Y axis label.
    pub y_label: String,
    /// The lines.
    pub series: Vec<Series>,
    /// A horizontal reference line: its label and y.
    pub reference: Option<(String, f64)>,
}

/// The colour of series `i`.
fn colour(i: usize) -> RGBColor {
    const C: [RGBColor; 6] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
    ];
    C[i % C.len()]
}

/// Pads `[lo, hi]` by 8% each side (and widens a degenerate range).
fn padded(lo: f64, hi: f64) -> (f64, f64) {
    let span = if hi > lo { hi - lo } else { lo.abs().max(1.0) * 0.1 };
    (lo - span * 0.08, hi + span * 0.08)
}

/// Draws `panels` stacked vertically under `title` into the PNG at `path`.
pub fn line_chart(path: impl AsRef<Path>, title: &str, panels: &[LineChart]) -> Result<()> {
    fonts()?;
    let path = path.as_ref();
    if panels.is_empty() || panels.iter().any(|p| p.series.iter().all(|s| s.points.is_empty())) {
        return Err(PlotError::Empty(format!("{title}: a panel without points")));
    }
    let height = TITLE_BAND + PANEL.1 * panels.len() as u32;
    drawn(
        path,
        (|| {
            let root = BitMapBackend::new(path, (PANEL.0, height)).into_drawing_area();
            root.fill(&WHITE).map_err(msg)?;
            let root = root.titled(title, ("sans-serif", 24).into_font().style(FontStyle::Bold)).map_err(msg)?;
            for (area, panel) in root.split_evenly((panels.len(), 1)).iter().zip(panels) {
                draw_lines(area, panel)?;
            }
            root.present().map_err(msg)
        })(),
    )
}

fn draw_lines(area: &DrawingArea<BitMapBackend<'_>, Shift>, p: &LineChart) -> std::result::Result<(), String> {
    let pts = || p.series.iter().flat_map(|s| s.points.iter());
    let (x0, x1) = pts().fold((f64::MAX, f64::MIN), |(a, b), (x, _)| (a.min(*x), b.max(*x)));
    let mut ys: Vec<f64> = pts().map(|(_, y)| *y).collect();
    ys.extend(p.reference.as_ref().map(|r| r.1));
    let (y0, y1) = ys.iter().fold((f64::MAX, f64::MIN), |(a, b), y| (a.min(*y), b.max(*y)));
    let ((x0, x1), (y0, y1)) = (padded(x0, x1), padded(y0, y1));
    let mut chart = ChartBuilder::on(area)
        .caption(&p.title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(msg)?;
    chart
        .configure_mesh()
        .x_desc(&p.x_label)
        .y_desc(&p.y_label)
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 15))
        .draw()
        .map_err(msg)?;
    for (i, s) in p.series.iter().enumerate() {
        let c = colour(i);
        chart
            .draw_series(LineSeries::new(s.points.iter().copied(), c.stroke_width(2)))
            .map_err(msg)?
            .label(&s.name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        chart.draw_series(s.points.iter().map(|pt| Circle::new(*pt, 4, c.filled()))).map_err(msg)?;
    }
    if let Some((label, y)) = &p.reference {
        let y = *y;
        let grey = RGBColor(110, 110, 110);
        let dashes = (0..60).map(|i| x0 + (x1 - x0) * i as f64 / 60.0).collect::<Vec<_>>();
        chart
            .draw_series(
                dashes
                    .chunks(2)
                    .filter(|c| c.len() == 2)
                    .map(|c| PathElement::new(vec![(c[0], y), (c[1], y)], grey.stroke_width(1))),
            )
            .map_err(msg)?
            .label(label)
            .legend(move |(x, yy)| PathElement::new(vec![(x, yy), (x + 20, yy)], grey.stroke_width(1)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(msg)
}

/// A grouped bar chart on a log y axis, written as PNG to `path`: one group per category, one bar per series
/// in each group (series `j` has one value per category, in order). Values that are not positive and finite
/// are left out (a log axis cannot show them); the axis spans whole decades around the rest.
pub fn log_bars(
    path: impl AsRef<Path>,
    title: &str,
    categories: &[String],
    series: &[(String, Vec<f64>)],
) -> Result<()> {
    fonts()?;
    let path = path.as_ref();
    if let Some((name, v)) = series.iter().find(|(_, v)| v.len() != categories.len()) {
        return Err(PlotError::Empty(format!(
            "{title}: series {name} has {} values for {} categories",
            v.len(),
            categories.len()
        )));
    }
    let shown = |v: &f64| v.is_finite() && *v > 0.0;
    let (lo, hi) = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied().filter(shown))
        .fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
    if categories.is_empty() || lo > hi {
        return Err(PlotError::Empty(format!("{title}: no positive value")));
    }
    let (lo, hi) = (10f64.powf(lo.log10().floor()), 10f64.powf((hi.log10() + 1e-9).ceil()).max(lo * 10.0));
    let width = (PANEL.0).max(160 + 90 * categories.len() as u32);
    drawn(
        path,
        (|| {
            let root = BitMapBackend::new(path, (width, PANEL.1 + TITLE_BAND + 40)).into_drawing_area();
            root.fill(&WHITE).map_err(msg)?;
            let mut chart = ChartBuilder::on(&root)
                .caption(title, ("sans-serif", 22).into_font().style(FontStyle::Bold))
                .margin(14)
                .x_label_area_size(50)
                .y_label_area_size(80)
                .build_cartesian_2d(0f64..categories.len() as f64, (lo..hi).log_scale())
                .map_err(msg)?;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(0)
                .y_label_formatter(&|v| format!("{v:.0e}"))
                .label_style(("sans-serif", 14))
                .draw()
                .map_err(msg)?;
            let group = 0.8 / series.len().max(1) as f64;
            for (j, (name, values)) in series.iter().enumerate() {
                let c = colour(j);
                let bars = values.iter().enumerate().filter(|(_, v)| shown(v)).map(|(i, v)| {
                    let x = i as f64 + 0.1 + group * j as f64;
                    Rectangle::new([(x, lo), (x + group * 0.92, *v)], c.filled())
                });
                chart
                    .draw_series(bars)
                    .map_err(msg)?
                    .label(name)
                    .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], c.filled()));
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font(("sans-serif", 14))
                .position(SeriesLabelPosition::UpperRight)
                .draw()
                .map_err(msg)?;
            let style = TextStyle::from(("sans-serif", 15).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
            for (i, name) in categories.iter().enumerate() {
                let (px, py) = chart.backend_coord(&(i as f64 + 0.5, lo));
                root.draw(&Text::new(name.clone(), (px, py + 8), style.clone())).map_err(msg)?;
            }
            root.present().map_err(msg)
        })(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Size of the PNG at `path` (a blank image compresses to a few hundred bytes; the charts were viewed).
    fn png_size(path: &Path) -> usize {
        let bytes = std::fs::read(path).expect("png written");
        assert_eq!(&bytes[1..4], b"PNG");
        bytes.len()
    }

    #[test]
    fn charts_are_written_with_embedded_text() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lines = dir.path().join("lines.png");
        let chart = LineChart {
            title: "t".into(),
            x_label: "tokens".into(),
            y_label: "ms".into(),
            series: vec![
                Series { name: "a".into(), points: vec![(16.0, 1.0), (32.0, 2.0), (64.0, 4.5)] },
                Series { name: "b".into(), points: vec![(16.0, 1.1), (32.0, 2.2), (64.0, 4.4)] },
            ],
            reference: Some(("goal".into(), 3.0)),
        };
        line_chart(&lines, "two panels", &[chart.clone(), chart]).expect("drawn");
        if let Ok(keep) = std::env::var("NAO_PLOT_KEEP") {
            std::fs::copy(&lines, format!("{keep}/lines.png")).ok();
        }
        assert!(png_size(&lines) > 1000);
        let bars = dir.path().join("bars.png");
        let cats = vec!["matmul".to_string(), "softmax".to_string(), "rmsnorm".to_string()];
        log_bars(
            &bars,
            "error vs bound",
            &cats,
            &[("p99".into(), vec![1e-7, 3e-8, 0.0]), ("bound".into(), vec![1e-5, 2e-6, 4e-7])],
        )
        .expect("drawn");
        assert!(png_size(&bars) > 1000);
        if let Ok(keep) = std::env::var("NAO_PLOT_KEEP") {
            std::fs::copy(&bars, format!("{keep}/bars.png")).ok();
        }
        assert!(matches!(log_bars(&bars, "x", &cats, &[("p".into(), vec![1.0])]), Err(PlotError::Empty(_))));
        assert!(matches!(line_chart(&lines, "x", &[]), Err(PlotError::Empty(_))));
    }
}
