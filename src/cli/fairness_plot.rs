//! `fairness.svg`: per group, the false-match rate within the group at the deployed threshold and
//! the share refused at enrolment, each a dot with its 95 % interval as a bar, the overall rate as
//! a dashed line: a differential shows as a dot far from the line, and how far the data can tell
//! as the bar's length.

use std::path::Path;

use plotters::prelude::*;

use crate::calibration::fairness::{GroupRates, Report};
use crate::calibration::interval::Rate;

fn panel(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    title: &str,
    groups: &[&GroupRates],
    overall: &Rate,
    rate: impl Fn(&GroupRates) -> Rate,
) -> anyhow::Result<()> {
    let top = groups.iter().map(|g| rate(g).upper).fold(overall.upper, f64::max).max(1e-6) * 1.05;
    let n = groups.len();
    let names: Vec<String> = groups.iter().map(|g| g.group.clone()).collect();
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 16))
        .margin(8)
        .x_label_area_size(36)
        .y_label_area_size(170)
        .build_cartesian_2d(0.0..top, -0.5..(n as f64 - 0.5))?;
    chart
        .configure_mesh()
        .y_labels(n)
        .y_label_formatter(&|y| {
            let i = y.round();
            // Row i of the list is drawn at n - 1 - i: the first group on top.
            match (y - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < n {
                true => names[n - 1 - i as usize].clone(),
                false => String::new(),
            }
        })
        .x_label_formatter(&|x| if top < 0.01 { format!("{x:.1e}") } else { format!("{:.0} %", 100.0 * x) })
        .disable_y_mesh()
        .light_line_style(TRANSPARENT)
        .draw()?;
    let y = |i: usize| (n - 1 - i) as f64;
    chart.draw_series(DashedLineSeries::new(
        vec![(overall.value, -0.5), (overall.value, n as f64 - 0.5)],
        5,
        4,
        BLACK.mix(0.6).stroke_width(1),
    ))?;
    for (i, g) in groups.iter().enumerate() {
        let r = rate(g);
        chart.draw_series(LineSeries::new(vec![(r.lower, y(i)), (r.upper, y(i))], BLUE.mix(0.5).stroke_width(2)))?;
        chart.draw_series(std::iter::once(Circle::new((r.value, y(i)), 3, BLUE.filled())))?;
    }
    Ok(())
}

pub fn svg(path: &Path, report: &Report) -> anyhow::Result<()> {
    // Every group of every combination, in the table's order (the names label the rows).
    let groups: Vec<&GroupRates> = report.combinations.iter().flat_map(|c| c.groups.iter()).collect();
    let height = 120 + 22 * groups.len() as u32;
    let root = SVGBackend::new(path, (1100, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(560);
    panel(
        &left,
        &format!("false-match rate within the group at {:.3}", report.threshold),
        &groups,
        &report.overall.fmr_within,
        |g| g.fmr_within,
    )?;
    panel(&right, "refused at enrolment (no face, quality)", &groups, &report.overall.enrol_refused, |g| {
        g.enrol_refused
    })?;
    root.present()?;
    Ok(())
}
