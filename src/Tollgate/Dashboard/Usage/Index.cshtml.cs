using Microsoft.AspNetCore.Mvc;
using Tollgate.Http;
using Tollgate.Models;
using Tollgate.Usage;

namespace Tollgate.Dashboard.Usage;

/// <summary>
/// Usage: totals and a chart per local day of the account's time zone (from the rollups), and the recent calls,
/// filtered and paged in storage. Everything reads <see cref="UsageService"/>, as <c>/api/v1/usage</c> and
/// <c>/api/v1/generations</c> do.
/// </summary>
internal sealed class UsageModel(UsageService usage, ModelCatalog catalog, Tollgate.ApiKeys.ApiKeyService keys, TimeProvider time) : DashboardPage
{
    public UsageQuery Query { get; private set; } = null!;

    public UsageSeries Series { get; private set; } = null!;

    public UsageFilterChoices Choices { get; private set; } = new([], [], []);

    public UsageCallsResult Calls { get; private set; } = new([], null);

    public string ChartLight { get; private set; } = "";

    public string ChartDark { get; private set; } = "";

    public string? Error { get; private set; }

    public bool HasNoCallsAtAll { get; private set; }

    public string ModelId => catalog.Models.Any(m => m.Id == DemoSettings.ModelId) ? DemoSettings.ModelId : catalog.Models.Count > 0 ? catalog.Models[0].Id : DemoSettings.ModelId;

    public string ZoneLabel => UsageTime.Describe(TimeZone, time.GetUtcNow());

    public async Task<IActionResult> OnGetAsync()
    {
        var today = UsageTime.LocalDate(time.GetUtcNow(), TimeZone);
        try
        {
            Query = UsageQuery.Parse(Request.Query, today);
            var cancellationToken = HttpContext.RequestAborted;
            Series = await usage.GetSeriesAsync(Account.Id, Query.From, Query.To, TimeZone, Query.Group, cancellationToken);
            Choices = await ChoicesAsync(cancellationToken);
            Calls = await usage.GetCallsAsync(Account.Id, Query.Filter(TimeZone), Query.Cursor, UsageService.DefaultPageSize, cancellationToken);
            HasNoCallsAtAll = Series.DataThrough is null;
        }
        catch (ApiException exception) when (exception.StatusCode == StatusCodes.Status400BadRequest)
        {
            // A broken link: say which part, and show the default page below it.
            Error = exception.Message;
            Response.StatusCode = StatusCodes.Status400BadRequest;
            Query = UsageQuery.Parse(new QueryCollection(), today);
            Series = await usage.GetSeriesAsync(Account.Id, Query.From, Query.To, TimeZone, Query.Group, HttpContext.RequestAborted);
        }

        ChartLight = UsageChart.RenderSvg(Series, Query.Metric, UsageChartTheme.Light, 960, 320, "usage-light");
        ChartDark = UsageChart.RenderSvg(Series, Query.Metric, UsageChartTheme.Dark, 960, 320, "usage-dark");
        return Page();
    }

    public static string Cost(Tollgate.Credits.UsageRecord record) => record.Unpriced ? "unpriced" : DashboardFormat.Usd(record.CostNanos);

    public static string Cost(UsageTotals totals) => totals.IsUnpriced ? "unpriced" : DashboardFormat.Usd(totals.CostNanos);

    /// <summary>
    /// The filters' choices without reading the records: the account's newest keys, the catalogue's models (and those in
    /// the chart), and the apps in the chart when it is grouped by app; the app box also takes any title typed in.
    /// </summary>
    private async Task<UsageFilterChoices> ChoicesAsync(CancellationToken cancellationToken)
    {
        var keyPage = await keys.ListPageAsync(Account.Id, new Tollgate.ApiKeys.KeyListQuery(null, Tollgate.ApiKeys.KeyStatusFilter.All, null, 200),
            cancellationToken);
        var models = catalog.Models.Select(m => m.Id)
            .Concat(Series.GroupBy == UsageSeriesGrouping.Model ? Series.Groups.Select(g => g.Id) : [])
            .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).Select(id => new UsageChoice(id, id, 0)).ToArray();
        var apps = Series.GroupBy == UsageSeriesGrouping.App ? Series.Groups.Where(g => g.Id.Length > 0).Select(g => new UsageChoice(g.Id, g.Label, g.Totals.Requests)).ToArray() : [];
        return new UsageFilterChoices(models, [.. keyPage.Select(k => new UsageChoice(k.Id, k.Name, 0))], apps);
    }

    public static string Tokens(long tokens) => tokens.ToString("N0", System.Globalization.CultureInfo.InvariantCulture);

    public static string Short(string? text, int max = 32) => text is null ? "" : text.Length <= max ? text : text[..max] + "…";

    public static string Duration(long? ms) => ms is null ? "—" : ms < 1000 ? $"{ms} ms" : $"{ms / 1000.0:0.0} s";
}
