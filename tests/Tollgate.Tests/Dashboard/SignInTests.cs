using System.Net;
using Microsoft.Playwright;
using Tollgate.Accounts;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Dashboard;

/// <summary>Sign-up through the first-run link, sign-in and its refusals, in a real browser and over plain HTTP.</summary>
public sealed class SignInTests(Browser browser) : IDisposable
{
    private readonly TollgateFactory _tollgate = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _tollgate.Dispose();

    [Fact]
    public async Task FirstStart_OwnerSignsUpThroughTheOneTimeLink_AndLandsOnTheOverview()
    {
        var link = await DashboardUsers.FirstRunLinkAsync(_tollgate);
        var page = await browser.NewPageAsync(_tollgate.Address);

        await page.GotoAsync(link);
        await Screenshots.SaveAsync(page, "signup-owner");
        Assert.Equal("Create the owner account", await page.Locator("h1").TextContentAsync());
        await page.GetByLabel("E-mail address").FillAsync("owner@example.com");
        await page.GetByLabel("Display name").FillAsync("Ada Owner");
        await page.GetByLabel("Password", new() { Exact = true }).FillAsync(DashboardUsers.Password);
        await page.GetByLabel("Repeat the password").FillAsync(DashboardUsers.Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Create account" }).ClickAsync();

        await page.WaitForURLAsync(url => url.EndsWith('/'));
        Assert.Equal("Overview", await page.Locator("h1").TextContentAsync());
        Assert.Contains("Welcome, Ada Owner", await page.Locator("[role=status]").TextContentAsync(), StringComparison.Ordinal);
        var owner = await _tollgate.Service<AccountService>().FindByEmailAsync("owner@example.com", CancellationToken.None);
        Assert.Equal(AccountRole.Owner, owner!.Role);

        // The snippets carry this server's real address.
        Assert.Contains($"{_tollgate.Address.ToString().TrimEnd('/')}/api/v1/chat/completions", await page.Locator("pre").First.TextContentAsync(),
            StringComparison.Ordinal);
        Assert.Empty(Browser.ConsoleErrors.TryGetValue(page, out var errors) ? errors : []);

        // The link works once.
        var again = await browser.NewPageAsync(_tollgate.Address);
        await again.GotoAsync(link);
        Assert.Contains("has been used", await again.Locator("[role=alert]").TextContentAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task WrongPassword_ShowsAnError_AndNoSession()
    {
        var member = await DashboardUsers.CreateAsync(_tollgate);
        var page = await browser.NewPageAsync(_tollgate.Address);

        await page.GotoAsync("/signin");
        await page.GetByLabel("E-mail address").FillAsync(member.Email);
        await page.GetByLabel("Password", new() { Exact = true }).FillAsync("not the password at all");
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in", Exact = true }).ClickAsync();

        Assert.Equal(Tollgate.Dashboard.SignInModel.InvalidMessage, (await page.GetByTestId("signin-error").TextContentAsync())!.Trim());
        Assert.DoesNotContain(await page.Context.CookiesAsync(), cookie => cookie.Name == "tollgate_session");
        await page.GotoAsync("/");
        Assert.Contains("/signin", page.Url, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SignIn_ThenSignOut_EndsTheSession()
    {
        var member = await DashboardUsers.CreateAsync(_tollgate);
        var page = await browser.NewPageAsync(_tollgate.Address);

        await DashboardUsers.SignInAsync(page, member.Email);
        Assert.Equal("Overview", await page.Locator("h1").TextContentAsync());
        var session = (await page.Context.CookiesAsync()).Single(c => c.Name == "tollgate_session");
        Assert.True(session.HttpOnly);
        Assert.Equal(SameSiteAttribute.Lax, session.SameSite);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();

        await page.WaitForURLAsync(url => url.Contains("/signin", StringComparison.Ordinal));
        await page.GotoAsync("/settings/account");
        Assert.Contains("/signin?returnUrl=%2Fsettings%2Faccount", page.Url, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FormPostedWithoutTheAntiForgeryToken_IsRefused_AndSignsNobodyIn()
    {
        var member = await DashboardUsers.CreateAsync(_tollgate);
        using var client = DashboardUsers.CookieClient(_tollgate);
        await client.GetAsync("/signin", Ct); // the anti-forgery cookie, but no token in the form

        using var response = await client.PostAsync("/signin", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["email"] = member.Email, ["password"] = DashboardUsers.Password,
        }), Ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.False(response.Headers.TryGetValues("Set-Cookie", out var cookies) && cookies.Any(c => c.StartsWith("tollgate_session=", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task TwentyWrongPasswords_LockTheAddressOut_EvenForTheRightPassword_AndUnknownAddressesReadTheSame()
    {
        // Room for every attempt from this one address: the per-address rate limit is another test's.
        using var tollgate = new TollgateFactory(new Dictionary<string, string?> { ["Tollgate:SignIn:AttemptsPerIpPerMinute"] = "1000" });
        var member = await DashboardUsers.CreateAsync(tollgate);
        using var client = DashboardUsers.CookieClient(tollgate);
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 20; i++)
        {
            statuses.Add((await PostSignInAsync(client, member.Email, $"wrong password {i}")).Status);
        }

        var (status, html) = await PostSignInAsync(client, member.Email, DashboardUsers.Password);
        var (unknownStatus, unknownHtml) = await PostSignInAsync(client, "nobody-" + Guid.NewGuid().ToString("N") + "@example.com", "x", times: 20);

        Assert.Equal(HttpStatusCode.Unauthorized, statuses[0]);
        Assert.Equal(HttpStatusCode.TooManyRequests, statuses[^1]);
        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        Assert.Contains("Too many failed sign-ins for this e-mail address", html, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.TooManyRequests, unknownStatus);
        Assert.Contains("Too many failed sign-ins for this e-mail address", unknownHtml, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ManySignInsFromOneAddress_AreRateLimited()
    {
        using var tollgate = new TollgateFactory(new Dictionary<string, string?> { ["Tollgate:SignIn:AttemptsPerIpPerMinute"] = "5" });
        using var client = DashboardUsers.CookieClient(tollgate);

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 7; i++)
        {
            statuses.Add((await PostSignInAsync(client, $"user{i}@example.com", "whatever it is")).Status);
        }

        Assert.All(statuses.Take(5), s => Assert.Equal(HttpStatusCode.Unauthorized, s));
        Assert.Equal(HttpStatusCode.TooManyRequests, statuses[^1]);
    }

    [Fact]
    public async Task Member_CannotOpenAdminPages()
    {
        var member = await DashboardUsers.CreateAsync(_tollgate);
        using var client = await DashboardUsers.SignedInClientAsync(_tollgate, member.Email);

        foreach (var path in (string[])["/admin/accounts", "/admin/credits", "/admin/providers", "/admin/audit"])
        {
            using var response = await client.GetAsync(path, Ct);
            Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
            Assert.StartsWith("/forbidden", response.Headers.Location!.PathAndQuery, StringComparison.Ordinal);
            using var forbidden = await client.GetAsync(response.Headers.Location, Ct);
            Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        }
    }

    [Fact]
    public async Task SessionCookie_NeverAuthenticatesTheApi_AndAnApiKeyNeverAuthenticatesAPage()
    {
        var member = await DashboardUsers.CreateAsync(_tollgate);
        var (_, secret) = await _tollgate.CreateKeyAsync(member.Id);
        using var signedIn = await DashboardUsers.SignedInClientAsync(_tollgate, member.Email);

        using var api = await signedIn.GetAsync("/api/v1/api-keys", Ct);
        using var keyOnPage = new HttpRequestMessage(HttpMethod.Get, "/settings/account");
        keyOnPage.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", secret);
        using var page = await DashboardUsers.CookieClient(_tollgate).SendAsync(keyOnPage, Ct);

        Assert.Equal(HttpStatusCode.Unauthorized, api.StatusCode);
        Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
        Assert.Contains("/signin", page.Headers.Location!.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pages_CarryTheSecurityHeaders_AndNoStore()
    {
        var member = await DashboardUsers.CreateAsync(_tollgate);
        using var client = await DashboardUsers.SignedInClientAsync(_tollgate, member.Email);

        using var response = await client.GetAsync("/", Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var csp = response.Headers.GetValues("Content-Security-Policy").Single();
        Assert.Contains("script-src 'self'", csp, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-inline", csp, StringComparison.Ordinal);
        Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
        Assert.True(response.Headers.CacheControl!.NoStore);
    }

    [Fact]
    public async Task UnknownPage_InABrowser_IsAnHtmlPage_WhileApiClientsKeepTheJsonEnvelope()
    {
        var page = await browser.NewPageAsync(_tollgate.Address);
        var response = await page.GotoAsync("/no-such-page");
        using var client = _tollgate.Client();
        using var api = await client.GetAsync("/no-such-page", Ct);

        Assert.Equal(404, response!.Status);
        Assert.Equal("Page not found", await page.Locator("h1").TextContentAsync());
        Assert.Equal("application/json", api.Content.Headers.ContentType!.MediaType);
    }

    private static async Task<(HttpStatusCode Status, string Html)> PostSignInAsync(HttpClient client, string email, string password, int times = 1)
    {
        (HttpStatusCode, string) last = default;
        for (var i = 0; i < times; i++)
        {
            var token = await DashboardUsers.FormTokenAsync(client, "/signin");
            using var response = await client.PostAsync("/signin", new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["__csrf"] = token, ["email"] = email, ["password"] = password,
            }), Ct);
            last = (response.StatusCode, await response.Content.ReadAsStringAsync(Ct));
        }

        return last;
    }
}
