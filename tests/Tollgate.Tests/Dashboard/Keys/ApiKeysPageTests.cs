using System.Net;
using Microsoft.Playwright;
using Tollgate.Accounts;
using Tollgate.ApiKeys;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Dashboard.Keys;

/// <summary>Settings &gt; API Keys in a real browser: create (the secret once), use, edit, disable, rotate, delete, check, hygiene.</summary>
public sealed class ApiKeysPageTests(Browser browser) : IDisposable
{
    private const string InvalidKeyBody = """{"error":{"code":401,"message":"Invalid API key","metadata":{}}}""";
    private readonly TollgateFactory _tollgate = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _tollgate.Dispose();

    [Fact]
    public async Task CreateKey_TheSecretIsShownOnce_AndWorks_AndIsNeverShownAgain()
    {
        var owner = await DashboardUsers.CreateAsync(_tollgate, AccountRole.Owner);
        var page = await browser.NewPageAsync(_tollgate.Address);
        await DashboardUsers.SignInAsync(page, owner.Email);

        await page.GotoAsync("/settings/keys");
        foreach (var (width, height) in Browser.Viewports)
        {
            await page.SetViewportSizeAsync(width, height);
            await Screenshots.SaveAsync(page, "keys-empty");
        }

        await page.SetViewportSizeAsync(1366, 768);
        await page.GetByRole(AriaRole.Link, new() { Name = "Create API Key" }).First.ClickAsync();
        await page.GetByLabel("Name").FillAsync("production backend");
        await page.GetByLabel("Credit limit").FillAsync("25");
        await page.GetByLabel("Limit resets").SelectOptionAsync("monthly");
        await page.GetByLabel("Expires", new() { Exact = true }).SelectOptionAsync("90");
        foreach (var (width, height) in Browser.Viewports)
        {
            await page.SetViewportSizeAsync(width, height);
            await Screenshots.SaveAsync(page, "keys-create");
        }

        await page.SetViewportSizeAsync(1366, 768);
        var created = await page.RunAndWaitForResponseAsync(
            () => page.GetByRole(AriaRole.Button, new() { Name = "Create API Key" }).ClickAsync(),
            response => response.Request.Method == "POST");
        var secret = (await page.GetByTestId("new-secret").TextContentAsync())!.Trim();
        foreach (var (width, height) in Browser.Viewports)
        {
            await page.SetViewportSizeAsync(width, height);
            await Screenshots.SaveAsync(page, "keys-secret");
        }

        Assert.True(ApiKeySecret.IsWellFormed(secret), secret);
        Assert.Contains("no-store", (await created.AllHeadersAsync())["cache-control"], StringComparison.Ordinal);
        Assert.Contains("you cannot view it again after leaving this page", await page.Locator("[role=alert]").TextContentAsync(), StringComparison.Ordinal);
        Assert.DoesNotContain(secret, page.Url, StringComparison.Ordinal);
        Assert.Contains(secret, await page.Locator("#newkey-curl").TextContentAsync(), StringComparison.Ordinal);

        // The key works, with the limits chosen.
        using var api = _tollgate.Client(secret);
        using var chat = await api.PostAsync("/api/v1/chat/completions",
            Json.Body("""{"model":"demo/echo","messages":[{"role":"user","content":"hi"}]}"""), Ct);
        Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
        var key = (await _tollgate.Service<ApiKeyService>().ListAsync(owner.Id, Ct)).Single();
        Assert.Equal((Tollgate.Credits.Money.ToNanos(25m), "monthly"), (key.LimitNanos, key.LimitReset));
        Assert.InRange(key.ExpiresAt!.Value, DateTimeOffset.UtcNow.AddDays(89), DateTimeOffset.UtcNow.AddDays(91));

        // Leaving the page, the secret is nowhere: the list, the key's page, a reload of the form.
        await page.GotoAsync("/settings/keys");
        var list = await page.ContentAsync();
        Assert.Contains(ApiKeySecret.Label(secret), list, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, list, StringComparison.Ordinal);
        await page.GotoAsync($"/settings/keys/{key.Id}");
        Assert.DoesNotContain(secret, await page.ContentAsync(), StringComparison.Ordinal);
        Assert.Empty(Browser.ConsoleErrors.TryGetValue(page, out var errors) ? errors : []);
    }

    [Fact]
    public async Task DeleteKey_InThePage_TheVeryNextCallGets401WithTheExactBody()
    {
        var member = await DashboardUsers.CreateAsync(_tollgate);
        var (key, secret) = await _tollgate.CreateKeyAsync(member.Id, """{"name":"doomed"}""");
        using var api = _tollgate.Client(secret);
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync("/api/v1/api-keys", Ct)).StatusCode);
        var page = await browser.NewPageAsync(_tollgate.Address);
        await DashboardUsers.SignInAsync(page, member.Email);

        await page.GotoAsync($"/settings/keys/{key.Id}");
        await page.GetByRole(AriaRole.Link, new() { Name = "Delete key…" }).ClickAsync();
        foreach (var (width, height) in Browser.Viewports)
        {
            await page.SetViewportSizeAsync(width, height);
            await Screenshots.SaveAsync(page, "keys-delete");
        }

        await page.GetByRole(AriaRole.Button, new() { Name = "Delete key" }).ClickAsync();
        await page.WaitForURLAsync(url => url.EndsWith("/settings/keys", StringComparison.Ordinal));

        using var refused = await api.GetAsync("/api/v1/api-keys", Ct);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal(InvalidKeyBody, await refused.Content.ReadAsStringAsync(Ct));
        Assert.Contains("Deleted \"doomed\"", await page.Locator("[role=status]").TextContentAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task DisableEnableRotate_TakeEffectOnTheNextCall()
    {
        var member = await DashboardUsers.CreateAsync(_tollgate);
        var (key, secret) = await _tollgate.CreateKeyAsync(member.Id);
        using var session = await DashboardUsers.SignedInClientAsync(_tollgate, member.Email);
        using var api = _tollgate.Client(secret);

        Assert.Equal(HttpStatusCode.Redirect, (await PostAsync(session, $"/settings/keys/{key.Id}?handler=Toggle", ("disabled", "true"))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await api.GetAsync("/api/v1/api-keys", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Redirect, (await PostAsync(session, $"/settings/keys/{key.Id}?handler=Toggle", ("disabled", "false"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync("/api/v1/api-keys", Ct)).StatusCode);

        // Rotated with an hour of grace, both secrets work; rotated again at once, the previous one stops.
        using var rotated = await PostAsync(session, $"/settings/keys/{key.Id}?handler=Rotate", ("grace", "3600"));
        var second = NewSecret(await rotated.Content.ReadAsStringAsync(Ct));
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync("/api/v1/api-keys", Ct)).StatusCode);
        using var secondClient = _tollgate.Client(second);
        Assert.Equal(HttpStatusCode.OK, (await secondClient.GetAsync("/api/v1/api-keys", Ct)).StatusCode);
        using var again = await PostAsync(session, $"/settings/keys/{key.Id}?handler=Rotate", ("grace", "0"));
        var third = NewSecret(await again.Content.ReadAsStringAsync(Ct));
        Assert.Equal(HttpStatusCode.Unauthorized, (await secondClient.GetAsync("/api/v1/api-keys", Ct)).StatusCode);
        using var thirdClient = _tollgate.Client(third);
        Assert.Equal(HttpStatusCode.OK, (await thirdClient.GetAsync("/api/v1/api-keys", Ct)).StatusCode);
        Assert.True(again.Headers.CacheControl!.NoStore);
    }

    [Fact]
    public async Task EditModels_TheApiThenRefusesOtherModels_AndBadInputNamesTheField()
    {
        var member = await DashboardUsers.CreateAsync(_tollgate);
        var (key, secret) = await _tollgate.CreateKeyAsync(member.Id);
        using var session = await DashboardUsers.SignedInClientAsync(_tollgate, member.Email);

        using var saved = await PostAsync(session, $"/settings/keys/{key.Id}?handler=Edit",
            ("Form.Name", "narrow"), ("Form.Expiry", "never"), ("Form.Scopes", "inference"), ("Form.ModelPatterns", "openai/*"));
        using var refusedLimit = await PostAsync(session, $"/settings/keys/{key.Id}?handler=Edit",
            ("Form.Name", "narrow"), ("Form.Limit", "lots"), ("Form.Scopes", "inference"));
        using var refusedScopes = await PostAsync(session, $"/settings/keys/{key.Id}?handler=Edit", ("Form.Name", "narrow"));

        Assert.Equal(HttpStatusCode.Redirect, saved.StatusCode);
        using var api = _tollgate.Client(secret);
        using var chat = await api.PostAsync("/api/v1/chat/completions", Json.Body("""{"model":"demo/echo","messages":[{"role":"user","content":"hi"}]}"""), Ct);
        Assert.Equal(HttpStatusCode.Forbidden, chat.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, refusedLimit.StatusCode);
        Assert.Contains("The credit limit must be an amount in US dollars", await refusedLimit.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, refusedScopes.StatusCode);
        Assert.Contains("scopes must name at least one", await refusedScopes.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        var stored = await _tollgate.Service<ApiKeyService>().GetAsync(member.Id, key.Id, Ct);
        Assert.Equal(("narrow", ApiKeyScopes.Inference), (stored.Name, stored.Scopes));
    }

    [Fact]
    public async Task AnotherAccountsKey_IsNotFound_AndNothingChanges()
    {
        var member = await DashboardUsers.CreateAsync(_tollgate);
        var other = await DashboardUsers.CreateAsync(_tollgate);
        var (theirs, secret) = await _tollgate.CreateKeyAsync(other.Id, """{"name":"theirs"}""");
        using var session = await DashboardUsers.SignedInClientAsync(_tollgate, member.Email);

        Assert.Equal(HttpStatusCode.NotFound, (await session.GetAsync($"/settings/keys/{theirs.Id}", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await session.GetAsync($"/settings/keys/{theirs.Id}/delete", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await PostAsync(session, $"/settings/keys/{theirs.Id}/delete")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await PostAsync(session, $"/settings/keys/{theirs.Id}?handler=Toggle", ("disabled", "true"))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await PostAsync(session, $"/settings/keys/{theirs.Id}?handler=Rotate", ("grace", "0"))).StatusCode);
        Assert.DoesNotContain(theirs.Id, await session.GetStringAsync("/settings/keys?q=theirs", Ct), StringComparison.Ordinal);

        using var api = _tollgate.Client(secret);
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync("/api/v1/api-keys", Ct)).StatusCode);
        Assert.False((await _tollgate.Service<ApiKeyService>().GetAsync(other.Id, theirs.Id, Ct)).Disabled);
    }

    [Fact]
    public async Task CheckAKey_SaysValidAndWhose_WithoutRevealingMore_AndIsRateLimited()
    {
        var member = await DashboardUsers.CreateAsync(_tollgate);
        var other = await DashboardUsers.CreateAsync(_tollgate);
        var (_, mine) = await _tollgate.CreateKeyAsync(member.Id, """{"name":"my laptop"}""");
        var (_, theirs) = await _tollgate.CreateKeyAsync(other.Id, """{"name":"secret project"}""");
        var (deletedKey, deleted) = await _tollgate.CreateKeyAsync(member.Id, """{"name":"gone"}""");
        await _tollgate.Service<ApiKeyService>().DeleteAsync(member.Id, null, deletedKey.Id, Ct);
        using var session = await DashboardUsers.SignedInClientAsync(_tollgate, member.Email);

        var ownResult = await CheckAsync(session, mine);
        var theirsResult = await CheckAsync(session, theirs);
        Assert.Contains("Valid: your key \"my laptop\"", ownResult, StringComparison.Ordinal);
        Assert.Contains("A valid key, but not a key of this account.", theirsResult, StringComparison.Ordinal);
        Assert.DoesNotContain("secret project", theirsResult, StringComparison.Ordinal);
        Assert.DoesNotContain(theirs, theirsResult, StringComparison.Ordinal);
        foreach (var bad in new[] { deleted, "sk-tg-v1-garbage", new string('x', 5000) })
        {
            Assert.Contains("Not a valid key", await CheckAsync(session, bad), StringComparison.Ordinal);
        }

        // Ten a minute, then no more answers.
        string last = "";
        for (var i = 0; i < 6; i++)
        {
            last = await CheckAsync(session, mine);
        }

        Assert.Contains("Too many checks", last, StringComparison.Ordinal);
    }

    [Fact]
    public async Task KeyHygiene_FlagsRiskyKeys_AndAnOwnerDisablesAndDeletesThemInBulk()
    {
        var owner = await DashboardUsers.CreateAsync(_tollgate, AccountRole.Owner);
        var (risky, riskySecret) = await _tollgate.CreateKeyAsync(owner.Id, """{"name":"risky"}""");
        var (bounded, _) = await _tollgate.CreateKeyAsync(owner.Id, $$"""{"name":"bounded","limit":5,"expires_at":"{{DateTimeOffset.UtcNow.AddDays(30):O}}"}""");
        var (spare, spareSecret) = await _tollgate.CreateKeyAsync(owner.Id, """{"name":"spare"}""");
        var page = await browser.NewPageAsync(_tollgate.Address);
        await DashboardUsers.SignInAsync(page, owner.Email);

        await page.GotoAsync("/settings/keys");
        var hygiene = await page.GetByTestId("hygiene").TextContentAsync();
        Assert.Contains("2 of 3 keys have no credit limit", hygiene, StringComparison.Ordinal);
        var riskyRow = page.Locator($"tr[data-key-id='{risky.Id}']");
        Assert.Contains("no limit", await riskyRow.TextContentAsync(), StringComparison.Ordinal);
        Assert.DoesNotContain("no limit", await page.Locator($"tr[data-key-id='{bounded.Id}']").TextContentAsync(), StringComparison.Ordinal);
        foreach (var (width, height) in Browser.Viewports)
        {
            await page.SetViewportSizeAsync(width, height);
            await Screenshots.SaveAsync(page, "keys-list");
        }

        await page.SetViewportSizeAsync(1366, 768);
        await page.GetByLabel("Select risky").CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Disable selected" }).ClickAsync();
        Assert.Contains("Disabled 1 key", await page.Locator("[role=status]").TextContentAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _tollgate.Client(riskySecret).GetAsync("/api/v1/api-keys", Ct)).StatusCode);

        await page.GetByLabel("Select spare").CheckAsync();
        await page.GetByLabel("Select risky").CheckAsync();
        page.Dialog += (_, dialog) => dialog.AcceptAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Delete selected" }).ClickAsync();
        Assert.Equal("Delete 2 API keys", await page.Locator("h1").TextContentAsync());
        await page.GetByRole(AriaRole.Button, new() { Name = "Delete 2 keys" }).ClickAsync();

        Assert.Contains("Deleted 2 keys", await page.Locator("[role=status]").TextContentAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _tollgate.Client(spareSecret).GetAsync("/api/v1/api-keys", Ct)).StatusCode);
        Assert.Equal([bounded.Id], (await _tollgate.Service<ApiKeyService>().ListAsync(owner.Id, Ct)).Select(k => k.Id));
    }

    [Fact]
    public async Task Member_HasNoBulkActions()
    {
        var member = await DashboardUsers.CreateAsync(_tollgate);
        var (key, _) = await _tollgate.CreateKeyAsync(member.Id);
        using var session = await DashboardUsers.SignedInClientAsync(_tollgate, member.Email);

        Assert.DoesNotContain("Delete selected", await session.GetStringAsync("/settings/keys", Ct), StringComparison.Ordinal);
        using var bulk = await PostAsync(session, "/settings/keys?handler=Bulk", ("operation", "disable"), ("ids", key.Id));
        Assert.Equal(HttpStatusCode.Redirect, bulk.StatusCode);
        Assert.StartsWith("/forbidden", bulk.Headers.Location!.PathAndQuery, StringComparison.Ordinal);
        Assert.False((await _tollgate.Service<ApiKeyService>().GetAsync(member.Id, key.Id, Ct)).Disabled);
    }

    [Fact]
    public async Task CreateForm_PostedTwice_MakesOneKey_AndWithoutTheAntiForgeryToken_None()
    {
        var member = await DashboardUsers.CreateAsync(_tollgate);
        using var session = await DashboardUsers.SignedInClientAsync(_tollgate, member.Email);
        var html = await session.GetStringAsync("/settings/keys/new", Ct);
        var nonce = System.Text.RegularExpressions.Regex.Match(html, "name=\"nonce\" value=\"([0-9a-f]{32})\"").Groups[1].Value;

        using var first = await PostAsync(session, "/settings/keys/new", ("nonce", nonce), ("Form.Name", "once"), ("Form.Scopes", "inference"));
        using var again = await PostAsync(session, "/settings/keys/new", ("nonce", nonce), ("Form.Name", "once"), ("Form.Scopes", "inference"));
        using var noToken = await session.PostAsync("/settings/keys/new", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["nonce"] = new string('a', 32), ["Form.Name"] = "forged", ["Form.Scopes"] = "inference",
        }), Ct);

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Contains("already created", await again.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, noToken.StatusCode);
        Assert.Equal(["once"], (await _tollgate.Service<ApiKeyService>().ListAsync(member.Id, Ct)).Select(k => k.Name));
    }

    [Fact]
    public async Task KeyPage_WithUsage_ShowsTheSpend()
    {
        var member = await DashboardUsers.CreateAsync(_tollgate);
        await _tollgate.Service<Tollgate.Credits.CreditLedger>().GrantAsync(member.Id, Tollgate.Credits.Money.ToNanos(10m), "test", null, null, Ct);
        var (key, secret) = await _tollgate.CreateKeyAsync(member.Id, """{"name":"busy","limit":2,"limit_reset":"daily"}""");
        using var api = _tollgate.Client(secret);
        for (var i = 0; i < 3; i++)
        {
            using var chat = await api.PostAsync("/api/v1/chat/completions", Json.Body("""{"model":"demo/echo","messages":[{"role":"user","content":"hello there"}]}"""), Ct);
            Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
        }

        await _tollgate.Service<Tollgate.Credits.BillingWriter>().FlushAsync(Ct);
        var spent = (await _tollgate.Service<Tollgate.Credits.IBillingStore>().GetCreditsAsync(member.Id, Ct)).UsageNanos;
        var page = await browser.NewPageAsync(_tollgate.Address);
        await DashboardUsers.SignInAsync(page, member.Email);
        await page.GotoAsync($"/settings/keys/{key.Id}");

        Assert.Contains(Tollgate.Credits.Money.Format(spent), await page.Locator(".grid").TextContentAsync(), StringComparison.Ordinal);
        foreach (var (width, height) in Browser.Viewports)
        {
            await page.SetViewportSizeAsync(width, height);
            await Screenshots.SaveAsync(page, "keys-detail");
        }
    }

    private static string NewSecret(string html) =>
        System.Text.RegularExpressions.Regex.Match(html, "data-testid=\"new-secret\">(sk-tg-v1-[A-Za-z0-9]+)<").Groups[1].Value is { Length: > 0 } secret
            ? secret
            : throw new Xunit.Sdk.XunitException("no secret on the page");

    private static async Task<string> CheckAsync(HttpClient session, string secret)
    {
        using var response = await PostAsync(session, "/settings/keys?handler=Check", ("secret", secret));
        var html = await response.Content.ReadAsStringAsync(Ct);
        return System.Text.RegularExpressions.Regex.Match(html, "data-testid=\"check-result\">.*?<span>(.*?)</span>", System.Text.RegularExpressions.RegexOptions.Singleline)
            .Groups[1].Value is { Length: > 0 } text ? System.Net.WebUtility.HtmlDecode(text) : html;
    }

    private static async Task<HttpResponseMessage> PostAsync(HttpClient session, string path, params (string Name, string Value)[] fields)
    {
        var token = await DashboardUsers.FormTokenAsync(session, "/settings/account");
        var form = new List<KeyValuePair<string, string>> { new("__csrf", token) };
        form.AddRange(fields.Select(f => new KeyValuePair<string, string>(f.Name, f.Value)));
        return await session.PostAsync(path, new FormUrlEncodedContent(form), Ct);
    }
}
