using System.Net;
using Microsoft.Playwright;
using Tollgate.ApiKeys;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Dashboard;

/// <summary>
/// The whole first session of a new user, in one server and one browser, in the order a person goes: the
/// first start's one-time link, the owner account, a key made in the page, a real API call from outside, the
/// call in the usage table and chart, the key deleted in the page and refused on the very next call.
/// </summary>
public sealed class NewUserJourneyTests(Browser browser) : IDisposable
{
    private const string InvalidKeyBody = """{"error":{"code":401,"message":"Invalid API key","metadata":{}}}""";
    private readonly TollgateFactory _tollgate = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _tollgate.Dispose();

    [Fact]
    public async Task FirstStart_SignUp_CreateKey_Call_SeeItInUsage_DeleteKey_NextCallIs401()
    {
        // 1. First start: the owner signs up through the link the server printed, and creates a key in the page.
        var link = await DashboardUsers.FirstRunLinkAsync(_tollgate);
        var page = await browser.NewPageAsync(_tollgate.Address);
        await page.GotoAsync(link);
        await page.GetByLabel("E-mail address").FillAsync("founder@example.com");
        await page.GetByLabel("Display name").FillAsync("Grace Founder");
        await page.GetByLabel("Password", new() { Exact = true }).FillAsync(DashboardUsers.Password);
        await page.GetByLabel("Repeat the password").FillAsync(DashboardUsers.Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Create account" }).ClickAsync();
        await page.WaitForURLAsync(url => url.EndsWith('/'));

        await page.GotoAsync("/settings/keys");
        await page.GetByRole(AriaRole.Link, new() { Name = "Create API Key" }).First.ClickAsync();
        await page.GetByLabel("Name").FillAsync("first key");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create API Key" }).ClickAsync();
        var secret = (await page.GetByTestId("new-secret").TextContentAsync())!.Trim();
        Assert.True(ApiKeySecret.IsWellFormed(secret), secret);

        // 2. A program outside calls the API with the key, naming its app; the call shows in the table and the chart.
        using var api = _tollgate.Client(secret);
        await ChatAsync(api);
        await page.GotoAsync("/usage");
        Assert.Equal("1", await page.GetByTestId("total-requests").TextContentAsync());
        var row = await page.Locator("[data-testid=calls-table] tbody tr").First.TextContentAsync();
        Assert.Contains("Journey App", row, StringComparison.Ordinal);
        Assert.Contains("https://journey.example.com", row, StringComparison.Ordinal);
        Assert.Contains("first key", row, StringComparison.Ordinal);
        var chartAfterOne = await page.Locator("[data-testid=chart] .chart-light svg").InnerHTMLAsync();
        Assert.Contains("demo/echo", chartAfterOne, StringComparison.Ordinal);

        await ChatAsync(api);
        await page.ReloadAsync();
        Assert.Equal("2", await page.GetByTestId("total-requests").TextContentAsync());
        Assert.NotEqual(chartAfterOne, await page.Locator("[data-testid=chart] .chart-light svg").InnerHTMLAsync());

        // 3. The owner deletes the key in the page; the very next call with it is refused with the exact body.
        await page.GotoAsync("/settings/keys");
        await page.GetByRole(AriaRole.Link, new() { Name = "first key" }).ClickAsync();
        await page.GetByRole(AriaRole.Link, new() { Name = "Delete key…" }).ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Delete key" }).ClickAsync();
        await page.WaitForURLAsync(url => url.EndsWith("/settings/keys", StringComparison.Ordinal));

        using var refused = await api.PostAsync("/api/v1/chat/completions",
            Json.Body("""{"model":"demo/echo","messages":[{"role":"user","content":"still there?"}]}"""), Ct);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal(InvalidKeyBody, await refused.Content.ReadAsStringAsync(Ct));
        Assert.Empty(Browser.ConsoleErrors.TryGetValue(page, out var errors) ? errors : []);
    }

    private static async Task ChatAsync(HttpClient api)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/chat/completions")
        {
            Content = Json.Body("""{"model":"demo/echo","messages":[{"role":"user","content":"Hello from the journey"}]}"""),
        };
        request.Headers.Add("X-Title", "Journey App");
        request.Headers.Add("HTTP-Referer", "https://journey.example.com");
        using var chat = await api.SendAsync(request, Ct);
        Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
    }
}
