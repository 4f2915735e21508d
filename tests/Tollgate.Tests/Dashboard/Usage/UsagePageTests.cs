using System.Net;
using Microsoft.Playwright;
using Tollgate.Accounts;
using Tollgate.ApiKeys;
using Tollgate.Credits;
using Tollgate.Tests.Infrastructure;
using Tollgate.Tests.Usage;

namespace Tollgate.Tests.Dashboard.Usage;

/// <summary>The usage page in a real browser: calls appear with their app and referer, charts move, filters, paging, CSV, time zones.</summary>
public sealed class UsagePageTests(Browser browser) : IDisposable
{
    private readonly TollgateFactory _tollgate = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _tollgate.Dispose();

    [Fact]
    public async Task ACall_AppearsInTheTable_WithItsTitleAndReferer_AndTheChartChanges()
    {
        var member = await DashboardUsers.CreateAsync(_tollgate);
        var (_, secret) = await _tollgate.CreateKeyAsync(member.Id, """{"name":"backend"}""");
        var page = await browser.NewPageAsync(_tollgate.Address);
        await DashboardUsers.SignInAsync(page, member.Email);
        await page.GotoAsync("/usage");
        Assert.Equal("No calls yet", await page.Locator("h2").First.TextContentAsync());
        foreach (var (width, height) in Browser.Viewports)
        {
            await page.SetViewportSizeAsync(width, height);
            await Screenshots.SaveAsync(page, "usage-empty");
        }

        using var api = _tollgate.Client(secret);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/chat/completions")
        {
            Content = Json.Body("""{"model":"demo/echo","messages":[{"role":"user","content":"Hello!"}]}"""),
        };
        request.Headers.Add("X-Title", "Invoice Bot");
        request.Headers.Add("HTTP-Referer", "https://invoices.example.com");
        using var chat = await api.SendAsync(request, Ct);
        Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
        await page.SetViewportSizeAsync(1366, 768);
        await page.GotoAsync("/usage");

        Assert.Equal("1", await page.GetByTestId("total-requests").TextContentAsync());
        var row = page.Locator("[data-testid=calls-table] tbody tr").First;
        var text = await row.TextContentAsync();
        Assert.Contains("Invoice Bot", text, StringComparison.Ordinal);
        Assert.Contains("https://invoices.example.com", text, StringComparison.Ordinal);
        Assert.Contains("backend", text, StringComparison.Ordinal);
        Assert.Contains("demo/echo", await page.Locator("[data-testid=chart] .chart-light svg").InnerHTMLAsync(), StringComparison.Ordinal);
        Assert.Contains("data through", await page.GetByTestId("chart-meta").TextContentAsync(), StringComparison.Ordinal);
        Assert.Empty(Browser.ConsoleErrors.TryGetValue(page, out var errors) ? errors : []);

        // The call's detail is its generation record.
        await row.Locator("a").First.ClickAsync();
        Assert.Contains("Invoice Bot", await page.GetByTestId("generation").TextContentAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task HostileTitleAndReferer_AreShownAsText_NeverAsMarkupOrLinks()
    {
        var member = await DashboardUsers.CreateAsync(_tollgate);
        var (key, _) = await _tollgate.CreateKeyAsync(member.Id);
        var record = UsageTestData.Record(key, DateTimeOffset.UtcNow.AddMinutes(-5), 0.01m) with
        {
            AppTitle = "<img src=x onerror=alert(1)>", HttpReferer = "javascript:alert(document.cookie)",
        };
        await _tollgate.WriteUsageAsync(record);
        using var session = await DashboardUsers.SignedInClientAsync(_tollgate, member.Email);

        foreach (var path in new[] { "/usage", "/usage?group=app", $"/usage/{record.GenerationId}" })
        {
            var html = await session.GetStringAsync(path, Ct);
            Assert.DoesNotContain("<img src=x", html, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("href=\"javascript:", html, StringComparison.OrdinalIgnoreCase);
            Assert.Contains("&lt;img src=x", html, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Filters_AndCursorPaging_ShowEveryCallOnce()
    {
        var member = await DashboardUsers.CreateAsync(_tollgate);
        var (a, _) = await _tollgate.CreateKeyAsync(member.Id, """{"name":"alpha"}""");
        var (b, _) = await _tollgate.CreateKeyAsync(member.Id, """{"name":"beta"}""");
        var now = DateTimeOffset.UtcNow.AddHours(-1);
        var records = Enumerable.Range(0, 130).Select(i => UsageTestData.Record(i % 2 == 0 ? a : b, now.AddSeconds(-(i / 3)), 0.001m,
            model: i % 5 == 0 ? "openai/gpt-4o" : "demo/echo") with { AppTitle = i % 3 == 0 ? "Cline" : null }).ToArray();
        await _tollgate.WriteUsageAsync(records);
        using var session = await DashboardUsers.SignedInClientAsync(_tollgate, member.Email);

        var seen = await AllPagesAsync(session, "/usage?range=7d");
        var alpha = await AllPagesAsync(session, $"/usage?range=7d&key={a.Id}");
        var gpt = await AllPagesAsync(session, "/usage?range=7d&model=openai%2Fgpt-4o");
        var cline = await AllPagesAsync(session, "/usage?range=7d&app=Cline&key=" + b.Id);

        Assert.Equal(records.Select(r => r.GenerationId).Order(), seen.Order());
        Assert.Equal(records.Where(r => r.KeyId == a.Id).Select(r => r.GenerationId).Order(), alpha.Order());
        Assert.Equal(records.Where(r => r.Model == "openai/gpt-4o").Select(r => r.GenerationId).Order(), gpt.Order());
        Assert.Equal(records.Where(r => r.AppTitle == "Cline" && r.KeyId == b.Id).Select(r => r.GenerationId).Order(), cline.Order());
    }

    [Fact]
    public async Task DayBoundaries_FollowTheAccountsTimeZone()
    {
        // 23:50 and 00:10 in Kolkata (UTC+05:30) are 18:20 and 18:40 UTC: one UTC day, two local ones.
        var member = await DashboardUsers.CreateAsync(_tollgate);
        await _tollgate.Service<AccountService>().UpdateProfileAsync(member, null, "Asia/Kolkata", Ct);
        var (key, _) = await _tollgate.CreateKeyAsync(member.Id);
        var localDay = DateOnly.FromDateTime(DateTime.UtcNow.AddDays(-3));
        var beforeMidnight = new DateTimeOffset(localDay.ToDateTime(new TimeOnly(18, 20)), TimeSpan.Zero);
        var late = UsageTestData.Record(key, beforeMidnight, 0.01m);
        var early = UsageTestData.Record(key, beforeMidnight.AddMinutes(20), 0.02m);
        await _tollgate.WriteUsageAsync(late, early);
        using var session = await DashboardUsers.SignedInClientAsync(_tollgate, member.Email);

        var first = await session.GetStringAsync($"/usage?range=custom&from={localDay:yyyy-MM-dd}&to={localDay:yyyy-MM-dd}", Ct);
        var second = await session.GetStringAsync($"/usage?range=custom&from={localDay.AddDays(1):yyyy-MM-dd}&to={localDay.AddDays(1):yyyy-MM-dd}", Ct);

        Assert.Contains(late.GenerationId, first, StringComparison.Ordinal);
        Assert.DoesNotContain(early.GenerationId, first, StringComparison.Ordinal);
        Assert.Contains(early.GenerationId, second, StringComparison.Ordinal);
        Assert.Contains("23:50:00", first, StringComparison.Ordinal);
        Assert.Contains("00:10:00", second, StringComparison.Ordinal);
        Assert.Contains("Asia/Kolkata (UTC+05:30)", first, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnpricedCalls_ShowAsUnpriced_NeverAsZeroDollars()
    {
        var member = await DashboardUsers.CreateAsync(_tollgate);
        var (key, _) = await _tollgate.CreateKeyAsync(member.Id);
        var record = UsageTestData.Record(key, DateTimeOffset.UtcNow.AddMinutes(-1), 0m, model: "local/llama") with { Unpriced = true };
        await _tollgate.WriteUsageAsync(record);
        using var session = await DashboardUsers.SignedInClientAsync(_tollgate, member.Email);

        var html = await session.GetStringAsync("/usage", Ct);
        var detail = await session.GetStringAsync($"/usage/{record.GenerationId}", Ct);

        Assert.Contains("data-testid=\"total-spend\">unpriced<", html, StringComparison.Ordinal);
        Assert.Contains(">unpriced</td>", html, StringComparison.Ordinal);
        Assert.Contains("unpriced (the model has no prices)", detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Export_IsACsvAttachment_OfTheFilteredCalls_WithFormulasDefused()
    {
        var member = await DashboardUsers.CreateAsync(_tollgate);
        var (key, _) = await _tollgate.CreateKeyAsync(member.Id);
        await _tollgate.WriteUsageAsync(
            UsageTestData.Record(key, DateTimeOffset.UtcNow.AddMinutes(-2), 0.01m) with { AppTitle = "=HYPERLINK(\"http://evil\")" },
            UsageTestData.Record(key, DateTimeOffset.UtcNow.AddMinutes(-1), 0.01m, model: "openai/gpt-4o"));
        using var session = await DashboardUsers.SignedInClientAsync(_tollgate, member.Email);

        using var all = await session.GetAsync("/usage/export.csv?range=7d", Ct);
        using var filtered = await session.GetAsync("/usage/export.csv?range=7d&model=openai%2Fgpt-4o", Ct);
        var csv = await all.Content.ReadAsStringAsync(Ct);

        Assert.Equal("text/csv", all.Content.Headers.ContentType!.MediaType);
        Assert.Equal("attachment", all.Content.Headers.ContentDisposition!.DispositionType);
        Assert.Equal(3, csv.Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Contains("'=HYPERLINK", csv, StringComparison.Ordinal);
        Assert.Equal(2, (await filtered.Content.ReadAsStringAsync(Ct)).Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public async Task AnotherAccountsCall_IsNotFound_AndBadDatesNameTheField()
    {
        var member = await DashboardUsers.CreateAsync(_tollgate);
        var other = await DashboardUsers.CreateAsync(_tollgate);
        var (theirs, _) = await _tollgate.CreateKeyAsync(other.Id);
        var record = UsageTestData.Record(theirs, DateTimeOffset.UtcNow.AddMinutes(-1), 0.5m) with { AppTitle = "their secret app" };
        await _tollgate.WriteUsageAsync(record);
        using var session = await DashboardUsers.SignedInClientAsync(_tollgate, member.Email);

        Assert.Equal(HttpStatusCode.NotFound, (await session.GetAsync($"/usage/{record.GenerationId}", Ct)).StatusCode);
        Assert.DoesNotContain("their secret app", await session.GetStringAsync($"/usage?range=7d&key={theirs.Id}", Ct), StringComparison.Ordinal);
        using var badDate = await session.GetAsync("/usage?range=custom&from=yesterday", Ct);
        using var tooLong = await session.GetAsync("/usage?range=custom&from=2020-01-01&to=2026-01-01", Ct);
        Assert.Equal(HttpStatusCode.BadRequest, badDate.StatusCode);
        Assert.Contains("is not a date such as", await badDate.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, tooLong.StatusCode);
        Assert.Contains("at most 400 days", await tooLong.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
    }

    private static async Task<List<string>> AllPagesAsync(HttpClient session, string path)
    {
        var ids = new List<string>();
        for (var next = path; next is not null;)
        {
            var html = await session.GetStringAsync(next, Ct);
            ids.AddRange(System.Text.RegularExpressions.Regex.Matches(html, "data-generation=\"(gen-[A-Za-z0-9]+)\"").Select(m => m.Groups[1].Value));
            var more = System.Text.RegularExpressions.Regex.Match(html, "href=\"([^\"]*cursor=[^\"]+)\" rel=\"next\"");
            next = more.Success ? WebUtility.HtmlDecode(more.Groups[1].Value) : null;
            Assert.True(ids.Count < 10_000, "paging does not end");
        }

        Assert.Equal(ids.Count, ids.Distinct().Count());
        return ids;
    }
}
