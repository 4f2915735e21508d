using System.Globalization;
using System.Security;
using System.Text.RegularExpressions;
using ScottPlot;
using Tollgate.Credits;
using Tollgate.Http;

namespace Tollgate.Usage;

internal enum UsageChartMetric
{
    /// <summary>USD charged per day. Unpriced calls cost nothing here; the subtitle counts them.</summary>
    Spend,
    Requests,
}

/// <summary>The page shows one per <c>prefers-color-scheme</c>; both have a transparent background.</summary>
internal enum UsageChartTheme
{
    Light,
    Dark,
}

/// <summary>
/// Renders a <see cref="UsageSeries"/> as an SVG chart with ScottPlot: stacked bars per local day of the spend or
/// the requests of the top <see cref="MaxGroups"/> groups (models, keys or apps) and "Other", the days on the axis,
/// and a subtitle naming the time zone and the "data through" time.
/// </summary>
/// <remarks>
/// Made for a page whose Content-Security-Policy forbids inline styles: ScottPlot draws through Skia's SVG canvas,
/// which writes presentation attributes only (<c>fill=</c>, <c>stroke=</c>, <c>font-size=</c>), never a
/// <c>style</c> attribute, a <c>&lt;style&gt;</c> or a <c>&lt;script&gt;</c> element (the tests hold it to that).
/// The document comes without an XML declaration, with a <c>viewBox</c> (it scales with its box) and with clip-path
/// ids made unique per chart, so several charts can sit inline in one page. Labels are the caller's text (key names,
/// app titles): they are escaped by the SVG writer, and control characters are dropped first.
/// </remarks>
internal static partial class UsageChart
{
    /// <summary>Groups drawn on their own; the rest are added up as "Other".</summary>
    public const int MaxGroups = 6;

    public const int MinWidth = 200, MaxWidth = 2400, MinHeight = 150, MaxHeight = 1600;

    private const int MaxLabelLength = 32;
    private const int MaxTicks = 10;

    private sealed record Palette(Color Text, Color Grid, Color[] Series, Color Other);

    // Okabe-Ito-like hues, told apart with colour-blindness; a darker set on light backgrounds and a lighter on dark.
    private static readonly Palette Light = new(Color.FromHex("#24292F"), Color.FromHex("#24292F").WithAlpha(0.12),
        [Color.FromHex("#0072B2"), Color.FromHex("#E69F00"), Color.FromHex("#009E73"), Color.FromHex("#CC79A7"), Color.FromHex("#56B4E9"),
         Color.FromHex("#D55E00")], Color.FromHex("#8C959F"));

    private static readonly Palette Dark = new(Color.FromHex("#E6EDF3"), Color.FromHex("#E6EDF3").WithAlpha(0.15),
        [Color.FromHex("#58A6FF"), Color.FromHex("#F5C04A"), Color.FromHex("#3FD0A0"), Color.FromHex("#E89AC7"), Color.FromHex("#9AD4F5"),
         Color.FromHex("#FF8A4C")], Color.FromHex("#6E7681"));

    /// <summary>The chart as a standalone SVG document (UTF-8 text). <paramref name="id"/> prefixes its internal ids (letters, digits, '-').</summary>
    public static string RenderSvg(UsageSeries series, UsageChartMetric metric, UsageChartTheme theme, int width = 800, int height = 320,
        string id = "usage-chart")
    {
        ArgumentNullException.ThrowIfNull(series);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, MinWidth);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(width, MaxWidth);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, MinHeight);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(height, MaxHeight);
        if (!SafeId().IsMatch(id))
        {
            throw new ArgumentException("id must be 1 to 40 letters, digits or '-', starting with a letter", nameof(id));
        }

        var palette = theme == UsageChartTheme.Dark ? Dark : Light;
        using var plot = new Plot();
        plot.Font.Set("DejaVu Sans");
        var title = $"{(metric == UsageChartMetric.Spend ? "Spend" : "Requests")} per day by {Noun(series.GroupBy)}";
        plot.Title(title);
        plot.Axes.Title.Label.FontSize = 15;
        plot.Axes.Left.Label.Text = metric == UsageChartMetric.Spend ? "USD" : "Requests";
        plot.Axes.Bottom.Label.Text = Subtitle(series, metric);
        plot.Axes.Bottom.Label.FontSize = 12;
        plot.Axes.Bottom.Label.Bold = false;

        var drawn = AddBars(plot, series, metric, palette);
        SetDayTicks(plot, series);
        plot.Axes.SetLimitsX(-0.6, series.Days.Count - 0.4);
        if (drawn)
        {
            plot.Axes.Margins(bottom: 0, top: 0.08);
            plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
            {
                LabelFormatter = metric == UsageChartMetric.Spend ? Usd : WholeNumber,
                IntegerTicksOnly = metric == UsageChartMetric.Requests,
            };
            plot.ShowLegend(Edge.Right);
        }
        else
        {
            plot.Axes.SetLimitsY(0, 1);
            plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual();
            var message = plot.Add.Text(EmptyMessage(series, metric), (series.Days.Count - 1) / 2.0, 0.5);
            message.LabelAlignment = Alignment.MiddleCenter;
            message.LabelFontSize = 14;
            message.LabelFontColor = palette.Text;
        }

        ApplyTheme(plot, palette);
        return Finish(plot.GetSvgXml(width, height), width, height, id, title);
    }

    /// <summary>Adds the stacked bars; false when there is nothing to draw (no calls, or no spend at all).</summary>
    private static bool AddBars(Plot plot, UsageSeries series, UsageChartMetric metric, Palette palette)
    {
        double Value(UsageTotals totals) => metric == UsageChartMetric.Spend ? (double)Money.ToUsd(totals.CostNanos) : totals.Requests;

        var top = series.Groups.Where(g => Value(g.Totals) > 0).OrderByDescending(g => Value(g.Totals)).ThenBy(g => g.Id, StringComparer.Ordinal)
            .Take(MaxGroups).ToList();
        if (top.Count == 0)
        {
            return false;
        }

        var bars = new List<Bar>(series.Days.Count * (top.Count + 1));
        var hasOther = false;
        for (var day = 0; day < series.Days.Count; day++)
        {
            var cells = series.Days[day].ByGroup;
            var stacked = 0.0;
            for (var g = 0; g < top.Count; g++)
            {
                var value = cells.TryGetValue(top[g].Id, out var totals) ? Value(totals) : 0;
                stacked = Stack(bars, day, stacked, value, palette.Series[g]);
            }

            var other = Value(series.Days[day].Totals) - stacked;
            if (other > 1e-12)
            {
                hasOther = true;
                Stack(bars, day, stacked, other, palette.Other);
            }
        }

        plot.Add.Bars(bars);
        for (var g = 0; g < top.Count; g++)
        {
            plot.Legend.ManualItems.Add(new LegendItem { LabelText = Clean(top[g].Label), FillColor = palette.Series[g] });
        }

        if (hasOther)
        {
            plot.Legend.ManualItems.Add(new LegendItem { LabelText = "Other", FillColor = palette.Other });
        }

        return true;
    }

    private static double Stack(List<Bar> bars, int day, double from, double value, Color color)
    {
        if (value > 0)
        {
            bars.Add(new Bar { Position = day, ValueBase = from, Value = from + value, FillColor = color, LineWidth = 0, Size = 0.8 });
        }

        return from + value;
    }

    /// <summary>At most <see cref="MaxTicks"/> day labels, evenly spaced, the first day always labelled.</summary>
    private static void SetDayTicks(Plot plot, UsageSeries series)
    {
        var count = series.Days.Count;
        var step = Math.Max(1, (int)Math.Ceiling(count / (double)MaxTicks));
        var format = series.From.Year == series.To.Year ? "MMM d" : "MMM d yyyy";
        var positions = new List<double>();
        var labels = new List<string>();
        for (var day = 0; day < count; day += step)
        {
            positions.Add(day);
            labels.Add(series.Days[day].Day.ToString(format, CultureInfo.InvariantCulture));
        }

        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual([.. positions], [.. labels]);
    }

    private static string Subtitle(UsageSeries series, UsageChartMetric metric)
    {
        var zone = UsageTime.Describe(series.TimeZone, series.DataThrough ?? UsageTime.DayStart(series.To, series.TimeZone));
        var text = $"Days in {zone}";
        if (series.DataThrough is { } through)
        {
            text += " · data through " + UsageTime.ToLocal(through, series.TimeZone).ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);
        }

        if (metric == UsageChartMetric.Spend && series.Totals.UnpricedRequests > 0)
        {
            text += $" · {series.Totals.UnpricedRequests.ToString("N0", CultureInfo.InvariantCulture)} unpriced " +
                (series.Totals.UnpricedRequests == 1 ? "call" : "calls") + " not in USD";
        }

        return text;
    }

    private static string EmptyMessage(UsageSeries series, UsageChartMetric metric) => series.Totals.Requests == 0
        ? "No calls in this range"
        : series.Totals.IsUnpriced ? "Every call in this range was unpriced" : "No spend in this range";

    private static string Noun(UsageSeriesGrouping groupBy) => groupBy switch
    {
        UsageSeriesGrouping.Key => "key",
        UsageSeriesGrouping.App => "app",
        _ => "model",
    };

    private static void ApplyTheme(Plot plot, Palette palette)
    {
        plot.FigureBackground.Color = Colors.Transparent;
        plot.DataBackground.Color = Colors.Transparent;
        plot.Axes.Color(palette.Text);
        plot.Grid.MajorLineColor = palette.Grid;
        plot.Legend.BackgroundColor = Colors.Transparent;
        plot.Legend.OutlineColor = Colors.Transparent;
        plot.Legend.ShadowColor = Colors.Transparent;
        plot.Legend.FontColor = palette.Text;
    }

    private static string Usd(double value) =>
        "$" + value.ToString(Math.Abs(value) >= 100 ? "N0" : Math.Abs(value) >= 1 ? "0.##" : "0.####", CultureInfo.InvariantCulture);

    private static string WholeNumber(double value) => value.ToString("N0", CultureInfo.InvariantCulture);

    /// <summary>Label text as the chart may show it: no control characters or XML non-characters, at most <see cref="MaxLabelLength"/> characters.</summary>
    private static string Clean(string label)
    {
        var clean = (HeaderText.Clean(label, 200) ?? "(none)").Replace("\uFFFE", "", StringComparison.Ordinal).Replace("\uFFFF", "", StringComparison.Ordinal);
        if (clean.Length <= MaxLabelLength)
        {
            return clean.Length == 0 ? "(none)" : clean;
        }

        var cut = char.IsHighSurrogate(clean[MaxLabelLength - 2]) ? MaxLabelLength - 2 : MaxLabelLength - 1;
        return clean[..cut] + "…";
    }

    /// <summary>The SVG made to sit inline in a page: no XML declaration, a viewBox and a label, its own ids, fonts with fallbacks.</summary>
    private static string Finish(string svg, int width, int height, string id, string title)
    {
        var start = svg.IndexOf("<svg", StringComparison.Ordinal);
        svg = svg[start..];
        var open = $"<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" width=\"{width}\" height=\"{height}\"";
        if (!svg.StartsWith(open, StringComparison.Ordinal))
        {
            throw new InvalidOperationException("ScottPlot wrote an SVG root element of an unexpected shape");
        }

        svg = open + $" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"{SecurityElement.Escape(title)}\"" + svg[open.Length..];
        svg = ClipId().Replace(svg, match => match.Groups[1].Value + id + "-" + match.Groups[2].Value);
        return svg.Replace("font-family=\"DejaVu Sans\"", "font-family=\"DejaVu Sans, Verdana, sans-serif\"", StringComparison.Ordinal);
    }

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9-]{0,39}$")]
    private static partial Regex SafeId();

    /// <summary>Skia's clip-path ids (<c>id="cl_4"</c>, <c>url(#cl_1f)</c>: a counter in hexadecimal), which repeat from one chart to the next.</summary>
    [GeneratedRegex("(id=\"|url\\(#)(cl_[0-9A-Za-z]+)")]
    private static partial Regex ClipId();
}
