using System.Net;
using Tollgate.Accounts;
using Tollgate.Dashboard;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Dashboard;

/// <summary>Registration modes (open, invite, closed), invitations, and the first-run owner link.</summary>
public sealed class RegistrationTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task OpenRegistration_AnyoneSignsUp_AsAMember_WithTheInitialCredits()
    {
        using var tollgate = new TollgateFactory(new Dictionary<string, string?> { ["Tollgate:Dashboard:Registration"] = "open" });
        await DashboardUsers.CreateAsync(tollgate, AccountRole.Owner);
        using var client = DashboardUsers.CookieClient(tollgate);

        using var response = await PostSignUpAsync(client, null, "new@example.com", DashboardUsers.Password);

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        var account = await tollgate.Service<AccountService>().FindByEmailAsync("new@example.com", Ct);
        Assert.Equal(AccountRole.Member, account!.Role);
        Assert.Equal(Tollgate.Credits.Money.ToNanos(1m), (await tollgate.Service<Tollgate.Credits.IBillingStore>().GetCreditsAsync(account.Id, Ct)).BalanceNanos);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/", Ct)).StatusCode); // signed in
    }

    [Theory]
    [InlineData("invite", "You need an invitation link")]
    [InlineData("closed", "New accounts are not taken")]
    public async Task WithoutAnInvite_SignUpIsRefused_WhenRegistrationIsNotOpen(string mode, string message)
    {
        using var tollgate = new TollgateFactory(new Dictionary<string, string?> { ["Tollgate:Dashboard:Registration"] = mode });
        await DashboardUsers.CreateAsync(tollgate, AccountRole.Owner);
        using var client = DashboardUsers.CookieClient(tollgate);

        var page = await client.GetStringAsync("/signup", Ct);
        using var post = await PostSignUpAsync(client, null, "sneaky@example.com", DashboardUsers.Password);

        Assert.Contains(message, page, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, post.StatusCode);
        Assert.Null(await tollgate.Service<AccountService>().FindByEmailAsync("sneaky@example.com", Ct));
    }

    [Fact]
    public async Task Invite_ForAnAddress_MakesThatRole_Once_AndOnlyForThatAddress()
    {
        using var tollgate = new TollgateFactory();
        var owner = await DashboardUsers.CreateAsync(tollgate, AccountRole.Owner);
        var invite = await tollgate.Service<InviteService>().CreateAsync(owner, "invited@example.com", AccountRole.Admin, TimeSpan.FromDays(1), Ct);
        using var client = DashboardUsers.CookieClient(tollgate);

        // The invited address is the one the account gets, whatever the form says.
        using var accepted = await PostSignUpAsync(client, invite.Token, "someone-else@example.com", DashboardUsers.Password);
        using var again = await PostSignUpAsync(DashboardUsers.CookieClient(tollgate), invite.Token, "invited@example.com", DashboardUsers.Password);

        Assert.Equal(HttpStatusCode.Redirect, accepted.StatusCode);
        Assert.Equal(AccountRole.Admin, (await tollgate.Service<AccountService>().FindByEmailAsync("invited@example.com", Ct))!.Role);
        Assert.Null(await tollgate.Service<AccountService>().FindByEmailAsync("someone-else@example.com", Ct));
        Assert.Equal(HttpStatusCode.Forbidden, again.StatusCode);
        var audit = await tollgate.Service<Tollgate.Audit.AuditLog>().ListAsync(null, null, 10, Ct);
        Assert.Contains(audit, e => e.Action == "invite.create" && e.ActorAccountId == owner.Id);
    }

    [Fact]
    public async Task FirstRunLink_IsRevokedAtTheNextStart_AndStopsOnceAnAccountExists()
    {
        using var tollgate = new TollgateFactory();
        var link = await DashboardUsers.FirstRunLinkAsync(tollgate);
        var token = link[(link.IndexOf("invite=", StringComparison.Ordinal) + 7)..];
        var invites = tollgate.Service<InviteService>();
        Assert.NotNull(await invites.FindUsableAsync(token, Ct));

        // A second start on the same empty database makes a new link and revokes this one.
        var next = await invites.CreateFirstRunInviteAsync(Ct);
        Assert.Null(await invites.FindUsableAsync(token, Ct));
        Assert.NotNull(await invites.FindUsableAsync(next!.Token, Ct));

        // Once an account exists (made from the command line, say), the link makes no second one.
        await DashboardUsers.CreateAsync(tollgate, AccountRole.Owner);
        Assert.Null(await invites.FindUsableAsync(next.Token, Ct));
        Assert.Null(await invites.CreateFirstRunInviteAsync(Ct));
    }

    [Fact]
    public async Task ClosedRegistration_StillHonoursTheFirstRunLink()
    {
        using var tollgate = new TollgateFactory(new Dictionary<string, string?> { ["Tollgate:Dashboard:Registration"] = "closed" });
        var link = await DashboardUsers.FirstRunLinkAsync(tollgate);
        var token = link[(link.IndexOf("invite=", StringComparison.Ordinal) + 7)..];

        using var response = await PostSignUpAsync(DashboardUsers.CookieClient(tollgate), token, "first@example.com", DashboardUsers.Password);

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal(AccountRole.Owner, (await tollgate.Service<AccountService>().FindByEmailAsync("first@example.com", Ct))!.Role);
    }

    [Fact]
    public void BadDashboardSettings_AreEachNamed()
    {
        // The start refuses settings with these messages, one line each (StartupConfigurationAttacks shows how a start fails).
        var dashboard = new DashboardOptions
        {
            Registration = "sometimes",
            PublicBaseUrl = "ftp://x",
            SessionLifetime = TimeSpan.FromSeconds(1),
            Oidc = new OidcSettings { Authority = "http://idp.example.com" },
        };
        var signIn = new SignInOptions { LockoutThreshold = 0, AttemptsPerIpPerMinute = 0 };

        var errors = dashboard.Validate().Concat(signIn.Validate()).ToArray();

        Assert.Contains("Tollgate:Dashboard:Registration must be open, invite or closed, not 'sometimes'", errors);
        Assert.Contains(errors, e => e.StartsWith("Tollgate:Dashboard:PublicBaseUrl must be an http or https address", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Tollgate:Dashboard:SessionLifetime must be between", StringComparison.Ordinal));
        Assert.Contains("Tollgate:Dashboard:Oidc:Authority must be an https address", errors);
        Assert.Contains("Tollgate:Dashboard:Oidc:ClientId is required when Oidc:Authority is set", errors);
        Assert.Contains("Tollgate:SignIn:LockoutThreshold must be between 1 and 1000", errors);
        Assert.Contains("Tollgate:SignIn:AttemptsPerIpPerMinute must be between 1 and 10000", errors);
        Assert.Empty(new DashboardOptions().Validate());
        Assert.Empty(new SignInOptions().Validate());
    }

    private static async Task<HttpResponseMessage> PostSignUpAsync(HttpClient client, string? invite, string email, string password)
    {
        // Any form's token will do: they belong to the browser, not to a page.
        var token = await DashboardUsers.FormTokenAsync(client, "/signin");
        var form = new Dictionary<string, string>
        {
            ["__csrf"] = token, ["email"] = email, ["password"] = password, ["confirm"] = password, ["invite"] = invite ?? "",
        };
        return await client.PostAsync("/signup", new FormUrlEncodedContent(form), Ct);
    }
}
