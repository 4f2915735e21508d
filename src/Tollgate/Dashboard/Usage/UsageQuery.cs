using System.Globalization;
using Tollgate.Usage;

namespace Tollgate.Dashboard.Usage;

/// <summary>
/// What the usage page shows, read from its query string: a range of local days (a preset or from/to), the table's
/// filters (key, model, app), how the chart groups and measures, and the table's cursor. Unknown values fall back to
/// the defaults; dates that are not dates, or a range that is too long, are a 400 naming the field.
/// </summary>
internal sealed record UsageQuery(
    string Range,
    DateOnly From,
    DateOnly To,
    string? Key,
    string? Model,
    string? App,
    UsageSeriesGrouping Group,
    UsageChartMetric Metric,
    string? Cursor)
{
    public static readonly string[] Presets = ["today", "7d", "30d", "month", "custom"];

    public static UsageQuery Parse(IQueryCollection query, DateOnly today)
    {
        var range = query["range"].ToString() is var r && Presets.Contains(r) ? r : query.ContainsKey("from") ? "custom" : "7d";
        var (from, to) = range switch
        {
            "today" => (today, today),
            "30d" => (today.AddDays(-29), today),
            "month" => (new DateOnly(today.Year, today.Month, 1), today),
            "custom" => (Date(query, "from") ?? today.AddDays(-6), Date(query, "to") ?? today),
            _ => (today.AddDays(-6), today),
        };
        if (to < from)
        {
            throw Http.ApiException.BadRequest("The range ends before it starts: pick a 'to' date on or after 'from'", "to");
        }

        if (to.DayNumber - from.DayNumber + 1 > UsageService.MaxSeriesDays)
        {
            throw Http.ApiException.BadRequest($"A range may span at most {UsageService.MaxSeriesDays} days", "from");
        }

        return new UsageQuery(
            range,
            from,
            to,
            Text(query, "key", UsageService.MaxKeyIdLength),
            Text(query, "model", UsageService.MaxModelLength),
            Text(query, "app", UsageService.MaxAppLength),
            query["group"].ToString() switch { "key" => UsageSeriesGrouping.Key, "app" => UsageSeriesGrouping.App, _ => UsageSeriesGrouping.Model },
            query["metric"].ToString() == "requests" ? UsageChartMetric.Requests : UsageChartMetric.Spend,
            Text(query, "cursor", 400));
    }

    public UsageCallFilter Filter(TimeZoneInfo zone) =>
        new(Key, Model, App, UsageTime.DayStart(From, zone), UsageTime.DayStart(To.AddDays(1), zone));

    /// <summary>This page's address with some parts changed (null removes a part); the cursor is dropped unless given.</summary>
    public string Link(string path = "/usage", string? range = null, string? group = null, string? metric = null, string? cursor = null,
        bool keepFilters = true)
    {
        var parts = new List<string>();
        var chosen = range ?? Range;
        parts.Add("range=" + chosen);
        if (chosen == "custom")
        {
            parts.Add("from=" + From.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
            parts.Add("to=" + To.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        }

        if (keepFilters)
        {
            Add("key", Key);
            Add("model", Model);
            Add("app", App);
        }

        Add("group", group ?? Group.ToString().ToLowerInvariant());
        Add("metric", metric ?? Metric.ToString().ToLowerInvariant());
        Add("cursor", cursor);
        return path + "?" + string.Join('&', parts);

        void Add(string name, string? value)
        {
            if (!string.IsNullOrEmpty(value))
            {
                parts.Add(name + "=" + Uri.EscapeDataString(value));
            }
        }
    }

    private static DateOnly? Date(IQueryCollection query, string name)
    {
        var text = query[name].ToString();
        if (text.Length == 0)
        {
            return null;
        }

        return DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day) && day.Year is >= 2000 and <= 2200
            ? day
            : throw Http.ApiException.BadRequest($"'{(text.Length > 20 ? text[..20] : text)}' is not a date such as 2026-12-01", name);
    }

    private static string? Text(IQueryCollection query, string name, int max)
    {
        var text = query[name].ToString().Trim();
        return text.Length == 0 ? null : text.Length <= max ? text : throw Http.ApiException.BadRequest($"{name} is too long", name);
    }
}
