using Microsoft.Playwright;
using Tollgate.Accounts;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Dashboard;

/// <summary>Single sign-on with an OpenID Connect provider (a real one on Kestrel: discovery, JWKS, code + PKCE), in a browser.</summary>
public sealed class OidcSignInTests(Browser browser) : IAsyncLifetime
{
    private FakeOidcProvider _provider = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _provider = await FakeOidcProvider.StartAsync();

    public async ValueTask DisposeAsync() => await _provider.DisposeAsync();

    private TollgateFactory Tollgate(bool createAccounts = false) => new(new Dictionary<string, string?>
    {
        ["Tollgate:Dashboard:Oidc:Authority"] = _provider.Authority.ToString(),
        ["Tollgate:Dashboard:Oidc:ClientId"] = FakeOidcProvider.ClientId,
        ["Tollgate:Dashboard:Oidc:ClientSecret"] = FakeOidcProvider.ClientSecret,
        ["Tollgate:Dashboard:Oidc:DisplayName"] = "Acme SSO",
        ["Tollgate:Dashboard:Oidc:AllowHttp"] = "true",
        ["Tollgate:Dashboard:Oidc:CreateAccounts"] = createAccounts ? "true" : "false",
    });

    [Fact]
    public async Task ExistingAccount_SignsInWithTheProvider_AndGetsTheDashboardSession()
    {
        using var tollgate = Tollgate();
        var member = await DashboardUsers.CreateAsync(tollgate, email: "sso-member@example.com");
        _provider.NextUser = ("SSO-Member@example.com", true, "Someone");
        var page = await browser.NewPageAsync(tollgate.Address);

        await page.GotoAsync("/settings/account");
        await page.GetByRole(AriaRole.Link, new() { Name = "Sign in with Acme SSO" }).ClickAsync();

        await page.WaitForURLAsync(url => url.EndsWith("/settings/account", StringComparison.Ordinal));
        Assert.Equal(member.Email, await page.GetByLabel("E-mail address").InputValueAsync());
        Assert.Contains(await page.Context.CookiesAsync(), c => c.Name == "tollgate_session" && c.HttpOnly);
    }

    [Fact]
    public async Task PersonWithoutAnAccount_IsTurnedAway_WhenRegistrationIsByInvitation()
    {
        using var tollgate = Tollgate();
        _provider.NextUser = ("stranger@example.com", true, "Stranger");
        var page = await browser.NewPageAsync(tollgate.Address);

        await page.GotoAsync("/signin");
        await page.GetByRole(AriaRole.Link, new() { Name = "Sign in with Acme SSO" }).ClickAsync();

        await page.WaitForURLAsync(url => url.Contains("error=oidc_no_account", StringComparison.Ordinal));
        Assert.Contains("no Tollgate account yet", await page.GetByTestId("signin-error").TextContentAsync(), StringComparison.Ordinal);
        Assert.Null(await tollgate.Service<AccountService>().FindByEmailAsync("stranger@example.com", Ct));
        Assert.DoesNotContain(await page.Context.CookiesAsync(), c => c.Name == "tollgate_session");
    }

    [Fact]
    public async Task PersonWithoutAnAccount_GetsAMemberAccount_WhenTheProviderMayCreateThem()
    {
        using var tollgate = Tollgate(createAccounts: true);
        _provider.NextUser = ("newcomer@example.com", true, "New Comer");
        var page = await browser.NewPageAsync(tollgate.Address);

        await page.GotoAsync("/signin");
        await page.GetByRole(AriaRole.Link, new() { Name = "Sign in with Acme SSO" }).ClickAsync();

        await page.WaitForURLAsync(url => url.EndsWith('/'));
        var account = await tollgate.Service<AccountService>().FindByEmailAsync("newcomer@example.com", Ct);
        Assert.Equal((AccountRole.Member, "New Comer"), (account!.Role, account.DisplayName));
    }

    [Theory]
    [InlineData(false, false, "oidc_unverified")]
    [InlineData(true, true, "oidc_disabled")]
    public async Task UnverifiedAddress_OrDisabledAccount_IsRefused(bool verified, bool disable, string error)
    {
        using var tollgate = Tollgate(createAccounts: true);
        var owner = await DashboardUsers.CreateAsync(tollgate, AccountRole.Owner);
        var member = await DashboardUsers.CreateAsync(tollgate, email: $"target-{Guid.NewGuid():N}@example.com");
        if (disable)
        {
            await tollgate.Service<AccountService>().SetDisabledAsync(owner, member.Id, disabled: true, Ct);
        }

        _provider.NextUser = (member.Email, verified, "Target");
        var page = await browser.NewPageAsync(tollgate.Address);
        await page.GotoAsync("/signin");
        await page.GetByRole(AriaRole.Link, new() { Name = "Sign in with Acme SSO" }).ClickAsync();

        await page.WaitForURLAsync(url => url.Contains("error=" + error, StringComparison.Ordinal));
        Assert.DoesNotContain(await page.Context.CookiesAsync(), c => c.Name == "tollgate_session");
    }
}
