using System.Net;
using Microsoft.Playwright;
using Tollgate.Accounts;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Dashboard;

/// <summary>Settings &gt; Account: profile, time zone, a password change that ends other sessions, sign out everywhere.</summary>
public sealed class AccountSettingsTests(Browser browser) : IDisposable
{
    private const string NewPassword = "a brand new passphrase 42";
    private readonly TollgateFactory _tollgate = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _tollgate.Dispose();

    [Fact]
    public async Task PasswordChange_EndsEveryOtherSession_ButNotThisOne()
    {
        var member = await DashboardUsers.CreateAsync(_tollgate);
        var laptop = await browser.NewPageAsync(_tollgate.Address);
        var phone = await browser.NewPageAsync(_tollgate.Address, 390, 844);
        await DashboardUsers.SignInAsync(laptop, member.Email);
        await DashboardUsers.SignInAsync(phone, member.Email);
        var oldCookies = await phone.Context.CookiesAsync();

        await laptop.GotoAsync("/settings/account");
        foreach (var (width, height) in Browser.Viewports)
        {
            await laptop.SetViewportSizeAsync(width, height);
            await Screenshots.SaveAsync(laptop, "settings-account");
        }

        await laptop.GetByLabel("Current password").FillAsync(DashboardUsers.Password);
        await laptop.GetByLabel("New password", new() { Exact = true }).FillAsync(NewPassword);
        await laptop.GetByLabel("Repeat the new password").FillAsync(NewPassword);
        await laptop.GetByRole(AriaRole.Button, new() { Name = "Change password" }).ClickAsync();

        Assert.Contains("Password changed", await laptop.Locator("[role=status]").TextContentAsync(), StringComparison.Ordinal);
        await laptop.GotoAsync("/");
        Assert.Equal("Overview", await laptop.Locator("h1").TextContentAsync());

        // The phone's session, and a copy of its old cookie, are refused.
        await phone.GotoAsync("/");
        Assert.Contains("/signin", phone.Url, StringComparison.Ordinal);
        var replay = await browser.NewPageAsync(_tollgate.Address);
        await replay.Context.AddCookiesAsync(oldCookies.Select(c => new Microsoft.Playwright.Cookie { Name = c.Name, Value = c.Value, Domain = c.Domain, Path = c.Path }));
        await replay.GotoAsync("/");
        Assert.Contains("/signin", replay.Url, StringComparison.Ordinal);

        // The old password no longer signs in; the new one does.
        using var oldPassword = DashboardUsers.CookieClient(_tollgate);
        var token = await DashboardUsers.FormTokenAsync(oldPassword, "/signin");
        using var refused = await oldPassword.PostAsync("/signin", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__csrf"] = token, ["email"] = member.Email, ["password"] = DashboardUsers.Password,
        }), Ct);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        using var _ = await DashboardUsers.SignedInClientAsync(_tollgate, member.Email, NewPassword);
    }

    [Theory]
    [InlineData("wrong current password", NewPassword, NewPassword, "The current password is not right")]
    [InlineData(DashboardUsers.Password, "short", "short", "at least 12 characters")]
    [InlineData(DashboardUsers.Password, NewPassword, "something else entirely", "not the same")]
    public async Task PasswordChange_Refused_SaysWhy_AndChangesNothing(string current, string next, string repeat, string expected)
    {
        // Posted directly: the browser's own checks (minlength) would stop some of these before the server sees them.
        var member = await DashboardUsers.CreateAsync(_tollgate);
        using var client = await DashboardUsers.SignedInClientAsync(_tollgate, member.Email);
        var token = await DashboardUsers.FormTokenAsync(client, "/settings/account");

        using var response = await client.PostAsync("/settings/account?handler=Password", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__csrf"] = token, ["currentPassword"] = current, ["newPassword"] = next, ["confirmPassword"] = repeat,
        }), Ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(expected, await response.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/", Ct)).StatusCode); // the session lives on
        using var _ = await DashboardUsers.SignedInClientAsync(_tollgate, member.Email); // the password is unchanged
    }

    [Fact]
    public async Task SignOutEverywhere_EndsEverySession()
    {
        var member = await DashboardUsers.CreateAsync(_tollgate);
        var first = await browser.NewPageAsync(_tollgate.Address);
        var second = await browser.NewPageAsync(_tollgate.Address);
        await DashboardUsers.SignInAsync(first, member.Email);
        await DashboardUsers.SignInAsync(second, member.Email);

        await first.GotoAsync("/settings/account");
        first.Dialog += (_, dialog) => dialog.AcceptAsync();
        await first.GetByRole(AriaRole.Button, new() { Name = "Sign out everywhere" }).ClickAsync();
        await first.WaitForURLAsync(url => url.Contains("/signin", StringComparison.Ordinal));

        await second.GotoAsync("/");
        Assert.Contains("/signin", second.Url, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Profile_SavesNameAndTimeZone_AndRefusesAZoneThatDoesNotExist()
    {
        var member = await DashboardUsers.CreateAsync(_tollgate);
        using var client = await DashboardUsers.SignedInClientAsync(_tollgate, member.Email);

        var token = await DashboardUsers.FormTokenAsync(client, "/settings/account");
        using var saved = await client.PostAsync("/settings/account?handler=Profile", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__csrf"] = token, ["displayName"] = "Grace", ["timeZone"] = "Asia/Kolkata",
        }), Ct);
        using var refused = await client.PostAsync("/settings/account?handler=Profile", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__csrf"] = token, ["displayName"] = "Grace", ["timeZone"] = "Mars/Olympus_Mons",
        }), Ct);

        Assert.Equal(HttpStatusCode.Redirect, saved.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("is not a time zone", await refused.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        var account = await _tollgate.Service<AccountService>().FindAsync(member.Id, Ct);
        Assert.Equal(("Grace", "Asia/Kolkata"), (account!.DisplayName, account.TimeZone));
    }

    [Fact]
    public async Task DisabledAccount_ItsSessionAndItsKeysStopAtOnce()
    {
        var owner = await DashboardUsers.CreateAsync(_tollgate, AccountRole.Owner);
        var member = await DashboardUsers.CreateAsync(_tollgate);
        var (_, secret) = await _tollgate.CreateKeyAsync(member.Id);
        using var api = _tollgate.Client(secret);
        using var session = await DashboardUsers.SignedInClientAsync(_tollgate, member.Email);
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync("/api/v1/api-keys", Ct)).StatusCode); // cached now

        await _tollgate.Service<AccountService>().SetDisabledAsync(owner, member.Id, disabled: true, Ct);

        using var refusedKey = await api.GetAsync("/api/v1/api-keys", Ct);
        using var refusedPage = await session.GetAsync("/", Ct);
        Assert.Equal(HttpStatusCode.Unauthorized, refusedKey.StatusCode);
        Assert.Equal("""{"error":{"code":401,"message":"Invalid API key","metadata":{}}}""", await refusedKey.Content.ReadAsStringAsync(Ct));
        Assert.Equal(HttpStatusCode.Redirect, refusedPage.StatusCode);
        Assert.Contains("/signin", refusedPage.Headers.Location!.ToString(), StringComparison.Ordinal);

        // Enabled again, the key works (a new sign-in is needed: the old session stays ended).
        await _tollgate.Service<AccountService>().SetDisabledAsync(owner, member.Id, disabled: false, Ct);
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync("/api/v1/api-keys", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Redirect, (await session.GetAsync("/", Ct)).StatusCode);
    }
}
