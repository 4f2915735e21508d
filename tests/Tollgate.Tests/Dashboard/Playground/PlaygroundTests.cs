using System.Net;
using System.Text.Json;
using Microsoft.Playwright;
using Tollgate.Accounts;
using Tollgate.ApiKeys;
using Tollgate.Credits;
using Tollgate.Tests.Infrastructure;
using Tollgate.Usage;

namespace Tollgate.Tests.Dashboard.Playground;

/// <summary>
/// The playground in a real browser: an answer streams in, is billed to the account like an API call (as its
/// "Playground" key, logged with the app), the curl beside it is a call the API takes, a logged call opens in it,
/// and every refusal (no credits, a disabled playground key, no form token, no session) is shown and charges nothing.
/// </summary>
public sealed class PlaygroundTests(Browser browser) : IDisposable
{
    private readonly TollgateFactory _tollgate = new(new Dictionary<string, string?>
    {
        ["Tollgate:Demo:WordDelay"] = "00:00:00.020", // the answer arrives in pieces
    });

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _tollgate.Dispose();

    private async Task<(Account Account, IPage Page)> SignedInAsync(decimal credits = 5m)
    {
        var account = await DashboardUsers.CreateAsync(_tollgate);
        var balance = (await _tollgate.Service<IBillingStore>().GetCreditsAsync(account.Id, Ct)).BalanceNanos;
        await _tollgate.Service<CreditLedger>().GrantAsync(account.Id, Money.ToNanos(credits) - balance, "test", null, null, Ct);
        var page = await browser.NewPageAsync(_tollgate.Address);
        await DashboardUsers.SignInAsync(page, account.Email);
        return (account, page);
    }

    [Fact]
    public async Task StreamedAnswer_IsShown_BilledToTheAccount_AndLoggedAsThePlaygroundKey()
    {
        var (account, page) = await SignedInAsync();
        await page.GotoAsync("/playground");
        await page.GetByLabel("System prompt").FillAsync("Answer briefly.");
        await page.GetByLabel("Message").FillAsync("Hello from the playground");
        await page.GetByRole(AriaRole.Button, new() { Name = "Send" }).ClickAsync();

        var generation = page.GetByTestId("playground-generation");
        await generation.WaitForAsync();
        var answer = await page.Locator(".message.assistant .message-text").Last.TextContentAsync();
        Assert.Contains("Hello from the playground", answer, StringComparison.Ordinal); // demo/echo says it back
        Assert.Contains("tokens in", await page.GetByTestId("playground-meta").TextContentAsync(), StringComparison.Ordinal);
        var id = (await generation.TextContentAsync())!;
        await Screenshots.SaveAsync(page, "playground-answer");

        var record = await _tollgate.Service<IUsageStore>().FindGenerationAsync(account.Id, id, Ct);
        Assert.NotNull(record);
        Assert.True(record.Streamed);
        Assert.Equal(200, record.Status);
        Assert.Equal("Tollgate Playground", record.AppTitle);
        Assert.True(record.CostNanos > 0);
        var key = await _tollgate.Service<IApiKeyStore>().GetAsync(account.Id, record.KeyId, Ct);
        Assert.Equal(("Playground", ApiKeyScopes.Inference), (key!.Name, key.Scopes));
        Assert.Equal(Money.ToNanos(5m) - record.CostNanos, (await _tollgate.Service<IBillingStore>().GetCreditsAsync(account.Id, Ct)).BalanceNanos);

        // A second turn carries the first; the same key bills it. The call opens from the meta line.
        await page.GetByLabel("Message").FillAsync("And again");
        await page.GetByRole(AriaRole.Button, new() { Name = "Send" }).ClickAsync();
        await page.WaitForFunctionAsync("id => document.querySelector('[data-testid=playground-generation]')?.textContent !== id", id);
        Assert.Equal(4, await page.Locator(".transcript .message").CountAsync());
        var second = await _tollgate.Service<IUsageStore>().FindGenerationAsync(account.Id, (await generation.TextContentAsync())!, Ct);
        Assert.Equal(record.KeyId, second!.KeyId);
        Assert.True(second.PromptTokens > record.PromptTokens);
        await generation.ClickAsync();
        await page.WaitForURLAsync(url => url.Contains("/usage/gen-", StringComparison.Ordinal));
        Assert.Contains("Tollgate Playground", await page.GetByTestId("generation").TextContentAsync(), StringComparison.Ordinal);
        Assert.Empty(Browser.ConsoleErrors.TryGetValue(page, out var errors) ? errors : []);
    }

    [Fact]
    public async Task NotStreamed_TheWholeAnswerArrives()
    {
        var (_, page) = await SignedInAsync();
        await page.GotoAsync("/playground");
        await page.GetByLabel("Stream the answer").UncheckAsync();
        await page.GetByLabel("Message").FillAsync("in one piece");
        await page.GetByRole(AriaRole.Button, new() { Name = "Send" }).ClickAsync();
        await page.GetByTestId("playground-generation").WaitForAsync();
        Assert.Contains("in one piece", await page.Locator(".message.assistant .message-text").Last.TextContentAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheCurlShown_FollowsTheForm_AndIsACallTheApiTakes()
    {
        var (account, page) = await SignedInAsync();
        await page.GotoAsync("/playground");
        await page.GetByLabel("Message").FillAsync("It's a quote's test");
        await page.GetByLabel("Temperature").FillAsync("0.3");
        var curl = (await page.GetByTestId("playground-curl").TextContentAsync())!;
        Assert.StartsWith($"curl {_tollgate.Address.ToString().TrimEnd('/')}/api/v1/chat/completions", curl, StringComparison.Ordinal);
        Assert.Contains("Authorization: Bearer $TOLLGATE_API_KEY", curl, StringComparison.Ordinal);

        // The body between -d '...' with the shell's quoting undone is the request; the API answers it.
        var quoted = curl[(curl.IndexOf("-d '", StringComparison.Ordinal) + 4)..^1].Replace("'\\''", "'", StringComparison.Ordinal);
        using var body = JsonDocument.Parse(quoted);
        Assert.Equal("It's a quote's test", body.RootElement.GetProperty("messages")[0].GetProperty("content").GetString());
        Assert.Equal(0.3m, body.RootElement.GetProperty("temperature").GetDecimal());
        Assert.True(body.RootElement.GetProperty("stream").GetBoolean());
        var (_, secret) = await _tollgate.CreateKeyAsync(account.Id);
        using var api = _tollgate.Client(secret);
        using var response = await api.PostAsync("/api/v1/chat/completions", Json.Body(quoted), Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var stream = await response.Content.ReadAsStringAsync(Ct);
        Assert.Contains("quote", stream, StringComparison.Ordinal);
        Assert.EndsWith("data: [DONE]\n\n", stream, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WithoutJavaScript_SendingShowsTheCurl()
    {
        var account = await DashboardUsers.CreateAsync(_tollgate);
        var page = await browser.NewPageAsync(_tollgate.Address, javaScript: false);
        await DashboardUsers.SignInAsync(page, account.Email);
        await page.GotoAsync("/playground");
        await page.GetByLabel("Message").FillAsync("no script here");
        await page.GetByRole(AriaRole.Button, new() { Name = "Send" }).ClickAsync();
        await page.GetByTestId("curl-only").WaitForAsync();
        Assert.Contains("no script here", await page.GetByTestId("playground-curl").TextContentAsync(), StringComparison.Ordinal);
        Assert.Empty(await _tollgate.Service<ApiKeyService>().ListAsync(account.Id, Ct)); // nothing was called
    }

    [Fact]
    public async Task Replay_OpensALoggedCallWithItsModel()
    {
        var (account, page) = await SignedInAsync();
        var (_, secret) = await _tollgate.CreateKeyAsync(account.Id);
        using var api = _tollgate.Client(secret);
        using var chat = await api.PostAsync("/api/v1/chat/completions",
            Json.Body("""{"model":"demo/echo","messages":[{"role":"user","content":"logged"}]}"""), Ct);
        var id = chat.Headers.GetValues("X-Generation-Id").Single();

        await page.GotoAsync($"/usage/{id}");
        await page.GetByRole(AriaRole.Link, new() { Name = "Open in playground" }).ClickAsync();
        await page.GetByTestId("replay").WaitForAsync();
        Assert.Contains(id, await page.GetByTestId("replay").TextContentAsync(), StringComparison.Ordinal);
        Assert.Equal("demo/echo", await page.GetByLabel("Model").InputValueAsync());

        // Another account's call is not found, exactly like one that does not exist.
        var other = await DashboardUsers.CreateAsync(_tollgate);
        using var stranger = await DashboardUsers.SignedInClientAsync(_tollgate, other.Email);
        using var response = await stranger.GetAsync($"/playground?replay={id}", Ct);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task NoCredits_TheRefusalIsShown_AndNothingIsCharged()
    {
        var (account, page) = await SignedInAsync(credits: 0m);
        await page.GotoAsync("/playground");
        await page.GetByLabel("Message").FillAsync("can I?");
        await page.GetByRole(AriaRole.Button, new() { Name = "Send" }).ClickAsync();
        var error = page.GetByTestId("playground-error");
        await error.WaitForAsync();
        Assert.Contains("credits", (await error.TextContentAsync())!, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(0, await page.Locator(".message.assistant").CountAsync());
        Assert.Equal(0, (await _tollgate.Service<IBillingStore>().GetCreditsAsync(account.Id, Ct)).UsageNanos);
    }

    [Fact]
    public async Task DisabledPlaygroundKey_IsRefusedWithWhatToDo_AndADeletedOneIsMadeAgain()
    {
        var (account, page) = await SignedInAsync();
        await page.GotoAsync("/playground");
        await page.GetByLabel("Message").FillAsync("first");
        await page.GetByRole(AriaRole.Button, new() { Name = "Send" }).ClickAsync();
        await page.GetByTestId("playground-generation").WaitForAsync();
        var keyId = (await _tollgate.Service<IAccountStore>().GetPlaygroundKeyIdAsync(account.Id, Ct))!;
        var keys = _tollgate.Service<ApiKeyService>();
        await keys.UpdateAsync(account.Id, null, keyId, new ApiKeyChanges { Disabled = true }, Ct);

        await page.GetByLabel("Message").FillAsync("second");
        await page.GetByRole(AriaRole.Button, new() { Name = "Send" }).ClickAsync();
        var error = page.GetByTestId("playground-error");
        await error.WaitForAsync();
        Assert.Contains("The Playground key is disabled", await error.TextContentAsync(), StringComparison.Ordinal);

        await keys.DeleteAsync(account.Id, null, keyId, Ct);
        await page.GetByRole(AriaRole.Button, new() { Name = "Send" }).ClickAsync();
        await page.WaitForFunctionAsync("() => document.querySelector('[data-testid=playground-error]').hidden");
        await page.GetByTestId("playground-generation").WaitForAsync();
        var newKey = await _tollgate.Service<IAccountStore>().GetPlaygroundKeyIdAsync(account.Id, Ct);
        Assert.NotEqual(keyId, newKey);
    }

    [Fact]
    public async Task ChatEndpoint_WantsTheSessionAndTheFormToken()
    {
        var account = await DashboardUsers.CreateAsync(_tollgate);
        var before = (await _tollgate.Service<IBillingStore>().GetCreditsAsync(account.Id, Ct)).UsageNanos;
        const string body = """{"model":"demo/echo","messages":[{"role":"user","content":"sneaky"}]}""";

        // Signed in, without the page's token: refused before anything runs.
        using var client = await DashboardUsers.SignedInClientAsync(_tollgate, account.Email);
        using (var noToken = await client.PostAsync("/playground/chat", Json.Body(body), Ct))
        {
            Assert.Equal(HttpStatusCode.BadRequest, noToken.StatusCode);
            Assert.Contains("form token", await noToken.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        }

        // An API key is not a session.
        var (_, secret) = await _tollgate.CreateKeyAsync(account.Id);
        using var api = DashboardUsers.CookieClient(_tollgate);
        using var withKey = new HttpRequestMessage(HttpMethod.Post, "/playground/chat") { Content = Json.Body(body) };
        withKey.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", secret);
        using (var refused = await api.SendAsync(withKey, Ct))
        {
            Assert.Equal(HttpStatusCode.Redirect, refused.StatusCode);
        }

        // With both, it answers, billed.
        var token = await DashboardUsers.FormTokenAsync(client, "/playground");
        using var proper = new HttpRequestMessage(HttpMethod.Post, "/playground/chat") { Content = Json.Body(body) };
        proper.Headers.Add("X-CSRF-Token", token);
        using (var answered = await client.SendAsync(proper, Ct))
        {
            Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
        }

        Assert.True((await _tollgate.Service<IBillingStore>().GetCreditsAsync(account.Id, Ct)).UsageNanos > before);
        Assert.Single(await _tollgate.Service<ApiKeyService>().ListAsync(account.Id, Ct), k => k.Name == "Playground");
    }
}
