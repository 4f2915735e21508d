using System.Diagnostics;
using System.Xml.Linq;
using Tollgate.Usage;

namespace Tollgate.Tests.Usage;

/// <summary>
/// The usage charts as SVG: well-formed, labelled with the days and the time zone, fit for a page whose
/// Content-Security-Policy forbids inline styles and scripts, in a light and a dark variant.
/// </summary>
public sealed class UsageChartTests : IAsyncLifetime
{
    private static readonly XNamespace Svg = "http://www.w3.org/2000/svg";
    private static readonly TimeZoneInfo Kolkata = TimeZoneInfo.FindSystemTimeZoneById("Asia/Kolkata");
    private UsageDatabase _db = null!;

    public async ValueTask InitializeAsync() => _db = await UsageDatabase.CreateAsync();

    public ValueTask DisposeAsync()
    {
        _db.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>Calls on 1, 2 and 5 May (Kolkata days) to <paramref name="models"/> models, with costs rising by model.</summary>
    private async Task<UsageSeries> SeriesAsync(int models = 3, UsageSeriesGrouping groupBy = UsageSeriesGrouping.Model, string keyName = "main",
        int days = 10)
    {
        var key = await _db.AddKeyAsync(keyName);
        var calls = new List<Tollgate.Credits.UsageRecord>();
        foreach (var day in new[] { 1, 2, 5 })
        {
            for (var m = 0; m < models; m++)
            {
                var at = new DateTimeOffset(2026, 5, day, 10, m, 0, TimeSpan.FromHours(5.5));
                calls.Add(_db.Call(key, at, $"provider/model-{m}", costNanos: (m + 1) * 10_000_000L));
            }
        }

        await _db.WriteAsync([.. calls]);
        return await _db.Service.GetSeriesAsync(UsageDatabase.AccountId, new DateOnly(2026, 5, 1), new DateOnly(2026, 5, days), Kolkata, groupBy,
            CancellationToken.None);
    }

    private static XDocument Parse(string svg) => XDocument.Parse(svg);

    private static string[] Texts(XDocument svg) => svg.Descendants(Svg + "text").Select(t => t.Value.Trim()).ToArray();

    /// <summary>What the page's policy (<c>style-src 'self'</c>, no inline scripts) would refuse or what could run.</summary>
    private static void AssertInert(string svg)
    {
        var document = Parse(svg);
        Assert.DoesNotContain("<?xml", svg, StringComparison.Ordinal);
        Assert.DoesNotContain("style", svg, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<script", svg, StringComparison.OrdinalIgnoreCase);
        foreach (var element in document.Descendants())
        {
            Assert.DoesNotContain(element.Name.LocalName, new[] { "style", "script", "foreignObject", "image", "a", "use" });
            foreach (var attribute in element.Attributes())
            {
                Assert.False(attribute.Name.LocalName.StartsWith("on", StringComparison.OrdinalIgnoreCase), attribute.ToString());
                Assert.NotEqual("style", attribute.Name.LocalName);
                Assert.NotEqual("href", attribute.Name.LocalName);
            }
        }
    }

    [Fact]
    public async Task Render_SpendByModel_ValidSvgWithTheDaysTheZoneAndTheGroups()
    {
        var series = await SeriesAsync();

        var svg = UsageChart.RenderSvg(series, UsageChartMetric.Spend, UsageChartTheme.Light);

        var document = Parse(svg);
        Assert.Equal(Svg + "svg", document.Root!.Name);
        Assert.Equal("0 0 800 320", document.Root.Attribute("viewBox")?.Value);
        var texts = Texts(document);
        Assert.Contains("Spend per day by model", texts);
        Assert.Contains("May 1", texts);
        Assert.Contains("May 4", texts);
        Assert.Contains(texts, t => t.Contains("Asia/Kolkata (UTC+05:30)", StringComparison.Ordinal));
        Assert.Contains(texts, t => t.Contains("data through 2026-05-05 10:02", StringComparison.Ordinal));
        Assert.Contains("provider/model-2", texts);
        Assert.DoesNotContain("Other", texts);
        Assert.Contains(document.Descendants(Svg + "text"), t => t.Value.Trim().StartsWith('$'));
        AssertInert(svg);
    }

    [Fact]
    public async Task Render_LightAndDark_DifferInColoursAndAreBothInert()
    {
        var series = await SeriesAsync();

        var light = UsageChart.RenderSvg(series, UsageChartMetric.Requests, UsageChartTheme.Light);
        var dark = UsageChart.RenderSvg(series, UsageChartMetric.Requests, UsageChartTheme.Dark);

        Assert.NotEqual(light, dark);
        static string[] Fills(string svg) => Parse(svg).Descendants(Svg + "rect").Select(r => (string?)r.Attribute("fill")).OfType<string>().Distinct().Order().ToArray();
        Assert.NotEqual(Fills(light), Fills(dark));
        Assert.Contains("Requests per day by model", Texts(Parse(dark)));
        AssertInert(light);
        AssertInert(dark);
        Assert.DoesNotContain("fill=\"white\"", light, StringComparison.Ordinal); // transparent: the page's background shows through
        Assert.DoesNotContain("fill=\"white\"", dark, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Render_NineModels_SixOnTheirOwnAndTheRestAsOther()
    {
        var series = await SeriesAsync(models: 9);

        var texts = Texts(Parse(UsageChart.RenderSvg(series, UsageChartMetric.Spend, UsageChartTheme.Light)));

        var legend = texts.Where(t => t.StartsWith("provider/", StringComparison.Ordinal) || t == "Other").Order(StringComparer.Ordinal);
        Assert.Equal(["Other", "provider/model-3", "provider/model-4", "provider/model-5", "provider/model-6", "provider/model-7", "provider/model-8"],
            legend);
        Assert.DoesNotContain("provider/model-0", texts);
    }

    [Fact]
    public async Task Render_NoCalls_ACleanChartThatSaysSo()
    {
        var series = await _db.Service.GetSeriesAsync(UsageDatabase.AccountId, new DateOnly(2026, 5, 1), new DateOnly(2026, 5, 30), Kolkata,
            UsageSeriesGrouping.Key, CancellationToken.None);

        var svg = UsageChart.RenderSvg(series, UsageChartMetric.Spend, UsageChartTheme.Dark);

        var texts = Texts(Parse(svg));
        Assert.Contains("No calls in this range", texts);
        Assert.Contains("Spend per day by key", texts);
        Assert.Contains("May 1", texts);
        Assert.Contains(texts, t => t.Contains("Asia/Kolkata", StringComparison.Ordinal));
        Assert.DoesNotContain(texts, t => t.Contains("data through", StringComparison.Ordinal));
        AssertInert(svg);
    }

    [Fact]
    public async Task Render_OnlyUnpricedCalls_SaysSoInsteadOfShowingZeroDollars()
    {
        var key = await _db.AddKeyAsync("main");
        await _db.WriteAsync(_db.Call(key, new DateTimeOffset(2026, 5, 2, 9, 0, 0, TimeSpan.Zero), "local/llama", costNanos: 0) with { Unpriced = true });
        var series = await _db.Service.GetSeriesAsync(UsageDatabase.AccountId, new DateOnly(2026, 5, 1), new DateOnly(2026, 5, 3), Kolkata,
            UsageSeriesGrouping.Model, CancellationToken.None);

        var spend = Texts(Parse(UsageChart.RenderSvg(series, UsageChartMetric.Spend, UsageChartTheme.Light)));
        var requests = Texts(Parse(UsageChart.RenderSvg(series, UsageChartMetric.Requests, UsageChartTheme.Light)));

        Assert.Contains("Every call in this range was unpriced", spend);
        Assert.Contains(spend, t => t.Contains("1 unpriced call not in USD", StringComparison.Ordinal));
        Assert.Contains("local/llama", requests);
    }

    [Fact]
    public async Task Render_HostileKeyName_IsEscapedTextNeverMarkup()
    {
        var series = await SeriesAsync(groupBy: UsageSeriesGrouping.Key, keyName: "</text><script>alert(1)</script>\u0001\uFFFE&amp;\"");

        var svg = UsageChart.RenderSvg(series, UsageChartMetric.Requests, UsageChartTheme.Light);

        AssertInert(svg);
        Assert.Contains(Texts(Parse(svg)), t => t.StartsWith("</text><script>", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Render_TwoChartsForOnePage_HaveTheirOwnClipIds()
    {
        var series = await SeriesAsync();

        // Skia numbers its clip paths with one counter in hexadecimal: past the tenth they are cl_a, cl_b...
        for (var i = 0; i < 20; i++)
        {
            UsageChart.RenderSvg(series, UsageChartMetric.Spend, UsageChartTheme.Light, id: "warm");
        }

        var spend = UsageChart.RenderSvg(series, UsageChartMetric.Spend, UsageChartTheme.Light, id: "spend");
        var requests = UsageChart.RenderSvg(series, UsageChartMetric.Requests, UsageChartTheme.Light, id: "requests");

        static string[] Ids(string svg) => Parse(svg).Descendants().Select(e => (string?)e.Attribute("id")).OfType<string>().ToArray();
        Assert.NotEmpty(Ids(spend));
        Assert.All(Ids(spend), id => Assert.StartsWith("spend-", id, StringComparison.Ordinal));
        Assert.Empty(Ids(spend).Intersect(Ids(requests)));
        Assert.All(Parse(spend).Descendants().Select(e => (string?)e.Attribute("clip-path")).OfType<string>(),
            url => Assert.StartsWith("url(#spend-", url, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Render_FourHundredDaysOfSevenGroups_StaysBounded()
    {
        var series = await SeriesAsync(models: 9, days: 1);
        var day = series.Days[0];
        var days = Enumerable.Range(0, UsageService.MaxSeriesDays)
            .Select(i => day with { Day = series.From.AddDays(i), Start = day.Start.AddDays(i), End = day.End.AddDays(i) }).ToArray();
        var large = series with { To = series.From.AddDays(UsageService.MaxSeriesDays - 1), Days = days };

        var stopwatch = Stopwatch.StartNew();
        var svg = UsageChart.RenderSvg(large, UsageChartMetric.Spend, UsageChartTheme.Dark, 1600, 600);
        stopwatch.Stop();

        var document = Parse(svg);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), $"{stopwatch.ElapsedMilliseconds} ms");
        Assert.InRange(Texts(document).Count(t => System.Text.RegularExpressions.Regex.IsMatch(t, "^[A-Z][a-z]{2} [0-9]{1,2} 20[0-9]{2}$")), 8, 10);
        Assert.True(svg.Length < 2_000_000, $"{svg.Length} characters");
    }

    [Theory]
    [InlineData(100, 320, "x")]
    [InlineData(800, 5000, "x")]
    [InlineData(800, 320, "no spaces")]
    [InlineData(800, 320, "\"><script>")]
    public async Task Render_SizeOrIdOutOfBounds_IsRefused(int width, int height, string id)
    {
        var series = await SeriesAsync(models: 1);

        Assert.ThrowsAny<ArgumentException>(() => UsageChart.RenderSvg(series, UsageChartMetric.Spend, UsageChartTheme.Light, width, height, id));
    }
}
