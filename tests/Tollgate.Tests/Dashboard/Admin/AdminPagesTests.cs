using System.Net;
using Microsoft.Playwright;
using Tollgate.Accounts;
using Tollgate.Audit;
using Tollgate.Credits;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Dashboard.Admin;

/// <summary>
/// The admin pages in a real browser: an admin grants credits and the member sees them; refused grants say why and
/// write nothing; disabling an account ends its session and stops its keys at once; an admin deletes a member's key;
/// roles follow the owner rules; invitations are made, used and revoked; every action is in the audit log.
/// </summary>
public sealed class AdminPagesTests(Browser browser) : IDisposable
{
    private const string InvalidKeyBody = """{"error":{"code":401,"message":"Invalid API key","metadata":{}}}""";
    private readonly TollgateFactory _tollgate = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _tollgate.Dispose();

    [Fact]
    public async Task AdminGrantsCredits_TheMemberSeesTheNewBalance_AndTheNoteInTheLedger()
    {
        var admin = await DashboardUsers.CreateAsync(_tollgate, AccountRole.Admin);
        var member = await DashboardUsers.CreateAsync(_tollgate);
        var memberPage = await browser.NewPageAsync(_tollgate.Address);
        await DashboardUsers.SignInAsync(memberPage, member.Email);
        await _tollgate.Service<CreditLedger>().GrantAsync(member.Id, -(await _tollgate.Service<IBillingStore>().GetCreditsAsync(member.Id, Ct)).BalanceNanos,
            "test", null, "spent the sign-up credit", Ct);
        await memberPage.GotoAsync("/credits");
        Assert.Equal("$0.00", await memberPage.GetByTestId("credits-balance").TextContentAsync());
        Assert.True(await memberPage.GetByTestId("no-credits").IsVisibleAsync());

        var page = await browser.NewPageAsync(_tollgate.Address);
        await DashboardUsers.SignInAsync(page, admin.Email);
        await page.GotoAsync("/admin/accounts");
        await page.GetByRole(AriaRole.Link, new() { Name = member.DisplayName, Exact = true }).ClickAsync();
        await page.Locator("#main").GetByRole(AriaRole.Link, new() { Name = "Grant credits" }).ClickAsync();
        Assert.Equal(member.Email, await page.GetByLabel("Account e-mail").InputValueAsync());
        await page.GetByLabel("Amount (USD)").FillAsync("12.5");
        await page.GetByLabel("Note").FillAsync("welcome to the team");
        await page.GetByRole(AriaRole.Button, new() { Name = "Grant" }).ClickAsync();
        await page.WaitForURLAsync(url => url.EndsWith("/admin/credits", StringComparison.Ordinal));
        Assert.Contains("Granted $12.50", await page.GetByRole(AriaRole.Status).TextContentAsync(), StringComparison.Ordinal);
        Assert.Contains("granted $12.50: welcome to the team", await page.GetByTestId("audit-table").TextContentAsync(), StringComparison.Ordinal);

        await memberPage.ReloadAsync();
        Assert.Equal("$12.50", await memberPage.GetByTestId("credits-balance").TextContentAsync());
        Assert.Equal("$12.50", await memberPage.GetByTestId("balance").TextContentAsync());
        Assert.False(await memberPage.GetByTestId("no-credits").IsVisibleAsync());
        var line = await memberPage.Locator("[data-testid=ledger] tbody tr").First.TextContentAsync();
        Assert.Contains("Grant", line, StringComparison.Ordinal);
        Assert.Contains("+$12.50", line, StringComparison.Ordinal);
        Assert.Contains("welcome to the team", line, StringComparison.Ordinal);
        Assert.Contains(admin.DisplayName, line, StringComparison.Ordinal);

        // The member's new credits buy calls at once.
        var (_, secret) = await _tollgate.CreateKeyAsync(member.Id);
        using var api = _tollgate.Client(secret);
        using var chat = await api.PostAsync("/api/v1/chat/completions",
            Json.Body("""{"model":"demo/echo","messages":[{"role":"user","content":"paid for"}]}"""), Ct);
        Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
        var audit = await _tollgate.Service<AuditLog>().ListAsync(null, member.Id, 10, Ct);
        Assert.Contains(audit, e => e.Action == "credits.grant" && e.ActorAccountId == admin.Id);
    }

    [Theory]
    [InlineData("nobody@example.com", "5", "note", "No account has this e-mail address.")]
    [InlineData(null, "five", "note", "Enter an amount in US dollars")]
    [InlineData(null, "0", "note", "Amount must not be 0.")]
    [InlineData(null, "0.0000000001", "note", "at most 9 decimal places")]
    [InlineData(null, "2000000", "note", "between -1000000 and 1000000")]
    [InlineData(null, "5", "", "Say why, for the ledger")]
    public async Task RefusedGrant_SaysWhy_AndWritesNothing(string? email, string amount, string note, string error)
    {
        var admin = await DashboardUsers.CreateAsync(_tollgate, AccountRole.Admin);
        var member = await DashboardUsers.CreateAsync(_tollgate);
        var initial = (await _tollgate.Service<IBillingStore>().GetCreditsAsync(member.Id, Ct)).BalanceNanos;
        var page = await browser.NewPageAsync(_tollgate.Address);
        await DashboardUsers.SignInAsync(page, admin.Email);
        await page.GotoAsync("/admin/credits");
        await page.GetByLabel("Account e-mail").FillAsync(email ?? member.Email);
        await page.GetByLabel("Amount (USD)").FillAsync(amount);
        await page.GetByLabel("Note").FillAsync(note);
        var response = await page.RunAndWaitForResponseAsync(
            () => page.GetByRole(AriaRole.Button, new() { Name = "Grant" }).ClickAsync(), r => r.Request.Method == "POST");

        Assert.Equal(400, response.Status);
        Assert.Contains(error, await page.Locator(".field-error").First.TextContentAsync(), StringComparison.Ordinal);
        Assert.Equal(initial, (await _tollgate.Service<IBillingStore>().GetCreditsAsync(member.Id, Ct)).BalanceNanos);
        Assert.Empty(await _tollgate.Service<AuditLog>().ListAsync(null, null, 10, Ct, actionPrefix: "credits."));
    }

    [Fact]
    public async Task NegativeAmount_IsAnAdjustment_InTheLedgerAndTheAuditLog()
    {
        var admin = await DashboardUsers.CreateAsync(_tollgate, AccountRole.Owner);
        var member = await DashboardUsers.CreateAsync(_tollgate);
        var initial = (await _tollgate.Service<IBillingStore>().GetCreditsAsync(member.Id, Ct)).BalanceNanos;
        var page = await browser.NewPageAsync(_tollgate.Address);
        await DashboardUsers.SignInAsync(page, admin.Email);
        await page.GotoAsync($"/admin/credits?email={Uri.EscapeDataString(member.Email)}");
        await page.GetByLabel("Amount (USD)").FillAsync("-2.25");
        await page.GetByLabel("Note").FillAsync("refund reversed");
        await page.GetByRole(AriaRole.Button, new() { Name = "Grant" }).ClickAsync();
        await page.WaitForURLAsync(url => url.EndsWith("/admin/credits", StringComparison.Ordinal));

        Assert.Equal(initial - Money.ToNanos(2.25m), (await _tollgate.Service<IBillingStore>().GetCreditsAsync(member.Id, Ct)).BalanceNanos);
        var ledger = await _tollgate.Service<IBillingStore>().ListLedgerAsync(member.Id, LedgerFilter.Credits, null, 10, Ct);
        Assert.Equal(("adjustment", -Money.ToNanos(2.25m), "refund reversed", admin.Id), (ledger[0].Kind, ledger[0].AmountNanos, ledger[0].Note, ledger[0].Actor));
        Assert.Contains("credits.adjust", await page.GetByTestId("audit-table").TextContentAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task DisablingAnAccount_EndsItsSession_AndItsKeysAtOnce_EnablingLetsItBackIn()
    {
        var admin = await DashboardUsers.CreateAsync(_tollgate, AccountRole.Admin);
        var member = await DashboardUsers.CreateAsync(_tollgate);
        await _tollgate.Service<CreditLedger>().GrantAsync(member.Id, Money.ToNanos(1m), "test", null, null, Ct);
        var (_, secret) = await _tollgate.CreateKeyAsync(member.Id);
        using var api = _tollgate.Client(secret);
        using (var before = await api.GetAsync("/api/v1/key", Ct))
        {
            Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        }

        var memberPage = await browser.NewPageAsync(_tollgate.Address);
        await DashboardUsers.SignInAsync(memberPage, member.Email);
        var page = await browser.NewPageAsync(_tollgate.Address);
        await DashboardUsers.SignInAsync(page, admin.Email);
        await page.GotoAsync($"/admin/accounts/{member.Id}");
        page.Dialog += (_, dialog) => dialog.AcceptAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Disable account" }).ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Enable account" }).WaitForAsync();
        Assert.Equal("disabled", await page.GetByTestId("account-status").TextContentAsync());

        using (var after = await api.GetAsync("/api/v1/key", Ct))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, after.StatusCode);
            Assert.Equal(InvalidKeyBody, await after.Content.ReadAsStringAsync(Ct));
        }

        await memberPage.GotoAsync("/usage");
        Assert.Contains("/signin", memberPage.Url, StringComparison.Ordinal);

        await page.GetByRole(AriaRole.Button, new() { Name = "Enable account" }).ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Disable account" }).WaitForAsync();
        using (var enabled = await api.GetAsync("/api/v1/key", Ct))
        {
            Assert.Equal(HttpStatusCode.OK, enabled.StatusCode);
        }

        var actions = (await _tollgate.Service<AuditLog>().ListAsync(null, member.Id, 10, Ct)).Select(e => e.Action).ToArray();
        Assert.Equal(["account.enable", "account.disable"], actions);
    }

    [Fact]
    public async Task AdminDeletesAMembersKey_ItIsRefusedAtOnce_AndTheDeletionIsAudited()
    {
        var admin = await DashboardUsers.CreateAsync(_tollgate, AccountRole.Admin);
        var member = await DashboardUsers.CreateAsync(_tollgate);
        var (key, secret) = await _tollgate.CreateKeyAsync(member.Id, """{"name":"leaked key"}""");
        var (kept, keptSecret) = await _tollgate.CreateKeyAsync(member.Id, """{"name":"kept key"}""");
        using var api = _tollgate.Client(secret);
        using (var before = await api.GetAsync("/api/v1/key", Ct))
        {
            Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        }

        var page = await browser.NewPageAsync(_tollgate.Address);
        await DashboardUsers.SignInAsync(page, admin.Email);
        await page.GotoAsync($"/admin/accounts/{member.Id}");
        page.Dialog += (_, dialog) => dialog.AcceptAsync();
        await page.Locator($"tr[data-key-id='{key.Id}']").GetByRole(AriaRole.Button, new() { Name = "Delete" }).ClickAsync();
        await page.GetByRole(AriaRole.Status).WaitForAsync();
        Assert.Contains("Deleted the key \"leaked key\"", await page.GetByRole(AriaRole.Status).TextContentAsync(), StringComparison.Ordinal);
        Assert.Equal(0, await page.Locator($"tr[data-key-id='{key.Id}']").CountAsync());

        using (var after = await api.GetAsync("/api/v1/key", Ct))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, after.StatusCode);
            Assert.Equal(InvalidKeyBody, await after.Content.ReadAsStringAsync(Ct));
        }

        using var keptApi = _tollgate.Client(keptSecret);
        using (var stillThere = await keptApi.GetAsync("/api/v1/key", Ct))
        {
            Assert.Equal(HttpStatusCode.OK, stillThere.StatusCode);
        }

        var entry = Assert.Single(await _tollgate.Service<AuditLog>().ListAsync(null, member.Id, 10, Ct));
        Assert.Equal(("key.delete", admin.Id, key.Id), (entry.Action, entry.ActorAccountId, entry.Subject));
        await page.GotoAsync("/admin/audit");
        Assert.Contains("leaked key", await page.GetByTestId("audit-table").TextContentAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Roles_FollowTheOwnerRules_AndTheRefusalIsShown()
    {
        var owner = await DashboardUsers.CreateAsync(_tollgate, AccountRole.Owner);
        var admin = await DashboardUsers.CreateAsync(_tollgate, AccountRole.Admin);
        var member = await DashboardUsers.CreateAsync(_tollgate);
        var page = await browser.NewPageAsync(_tollgate.Address);
        await DashboardUsers.SignInAsync(page, admin.Email);

        // An admin makes a member an admin...
        await page.GotoAsync($"/admin/accounts/{member.Id}");
        await page.Locator("#role").SelectOptionAsync("admin");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save role" }).ClickAsync();
        await page.GetByRole(AriaRole.Status).WaitForAsync();
        Assert.Equal(AccountRole.Admin, (await _tollgate.Service<AccountService>().FindAsync(member.Id, Ct))!.Role);

        // ...but cannot make an owner, nor unmake one.
        await page.Locator("#role").SelectOptionAsync("owner");
        var refused = await page.RunAndWaitForResponseAsync(
            () => page.GetByRole(AriaRole.Button, new() { Name = "Save role" }).ClickAsync(), r => r.Request.Method == "POST");
        Assert.Equal(400, refused.Status);
        Assert.Contains("Only an owner can make or unmake owners", await page.GetByTestId("admin-error").TextContentAsync(), StringComparison.Ordinal);
        Assert.Equal(AccountRole.Admin, (await _tollgate.Service<AccountService>().FindAsync(member.Id, Ct))!.Role);

        page.Dialog += (_, dialog) => dialog.AcceptAsync();
        await page.GotoAsync($"/admin/accounts/{owner.Id}");
        var disable = await page.RunAndWaitForResponseAsync(
            () => page.GetByRole(AriaRole.Button, new() { Name = "Disable account" }).ClickAsync(), r => r.Request.Method == "POST");
        Assert.Equal(400, disable.Status);
        Assert.Contains("Only an owner can disable an owner", await page.GetByTestId("admin-error").TextContentAsync(), StringComparison.Ordinal);
        Assert.False((await _tollgate.Service<AccountService>().FindAsync(owner.Id, Ct))!.Disabled);

        // Your own account is changed by someone else.
        await page.GotoAsync($"/admin/accounts/{admin.Id}");
        Assert.Equal(0, await page.GetByRole(AriaRole.Button, new() { Name = "Save role" }).CountAsync());
    }

    [Fact]
    public async Task Invitation_IsShownOnce_Works_AndARevokedOneDoesNot()
    {
        var admin = await DashboardUsers.CreateAsync(_tollgate, AccountRole.Admin);
        var page = await browser.NewPageAsync(_tollgate.Address);
        await DashboardUsers.SignInAsync(page, admin.Email);
        await page.GotoAsync("/admin/accounts");
        await page.GetByLabel("E-mail").FillAsync("newcomer@example.com");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create invitation link" }).ClickAsync();
        var link = (await page.GetByTestId("invite-link").TextContentAsync())!.Trim();
        Assert.Matches(@"^http://127\.0\.0\.1:\d+/signup\?invite=[A-Za-z0-9_\-]{20,}$", link);
        await page.GotoAsync("/admin/accounts");
        Assert.DoesNotContain(new Uri(link).Query, await page.ContentAsync(), StringComparison.Ordinal);
        Assert.Contains("newcomer@example.com", await page.GetByTestId("invites-table").TextContentAsync(), StringComparison.Ordinal);

        var newcomer = await browser.NewPageAsync(_tollgate.Address);
        await newcomer.GotoAsync(link);
        Assert.Equal("newcomer@example.com", await newcomer.GetByLabel("E-mail address").InputValueAsync());
        await newcomer.GetByLabel("Password", new() { Exact = true }).FillAsync(DashboardUsers.Password);
        await newcomer.GetByLabel("Repeat the password").FillAsync(DashboardUsers.Password);
        await newcomer.GetByRole(AriaRole.Button, new() { Name = "Create account" }).ClickAsync();
        await newcomer.WaitForURLAsync(url => url.EndsWith('/'));
        Assert.NotNull(await _tollgate.Service<AccountService>().FindByEmailAsync("newcomer@example.com", Ct));

        // A second invitation, revoked before use.
        await page.GetByLabel("E-mail").FillAsync("");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create invitation link" }).ClickAsync();
        var second = (await page.GetByTestId("invite-link").TextContentAsync())!.Trim();
        await page.GotoAsync("/admin/accounts");
        page.Dialog += (_, dialog) => dialog.AcceptAsync();
        await page.GetByTestId("invites-table").GetByRole(AriaRole.Button, new() { Name = "Revoke" }).First.ClickAsync();
        await page.GetByRole(AriaRole.Status).WaitForAsync();
        var stranger = await browser.NewPageAsync(_tollgate.Address);
        await stranger.GotoAsync(second);
        Assert.Equal(0, await stranger.GetByRole(AriaRole.Button, new() { Name = "Create account" }).CountAsync());

        var actions = (await _tollgate.Service<AuditLog>().ListAsync(null, null, 10, Ct)).Select(e => e.Action).ToArray();
        Assert.Equal(["invite.revoke", "invite.create", "invite.create"], actions);
    }

    [Theory]
    [InlineData("member", "0", "An invitation lasts between 1 and 30 days.")]
    [InlineData("member", "31", "An invitation lasts between 1 and 30 days.")]
    [InlineData("member", "a week", "An invitation lasts between 1 and 30 days.")]
    [InlineData("emperor", "7", "Choose a role: member, admin or owner.")]
    [InlineData("owner", "7", "Only an owner can invite an owner.")]
    public async Task RefusedInvitation_SaysWhy_AndMakesNoLink(string role, string days, string error)
    {
        var admin = await DashboardUsers.CreateAsync(_tollgate, AccountRole.Admin);
        using var client = await DashboardUsers.SignedInClientAsync(_tollgate, admin.Email);
        var token = await DashboardUsers.FormTokenAsync(client, "/admin/accounts");
        using var response = await client.PostAsync("/admin/accounts?handler=Invite", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__csrf"] = token, ["Form.Email"] = "", ["Form.Role"] = role, ["Form.Days"] = days,
        }), Ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var html = await response.Content.ReadAsStringAsync(Ct);
        Assert.Contains(System.Net.WebUtility.HtmlEncode(error), html, StringComparison.Ordinal);
        Assert.DoesNotContain("invite-link", html, StringComparison.Ordinal);
        Assert.Empty(await _tollgate.Service<AuditLog>().ListAsync(null, null, 10, Ct));
    }

    [Fact]
    public async Task Member_IsRefusedTheAdminForms_EvenWithAValidFormToken()
    {
        var member = await DashboardUsers.CreateAsync(_tollgate);
        var other = await DashboardUsers.CreateAsync(_tollgate);
        using var client = await DashboardUsers.SignedInClientAsync(_tollgate, member.Email);
        var token = await DashboardUsers.FormTokenAsync(client, "/settings/account");
        var initial = (await _tollgate.Service<IBillingStore>().GetCreditsAsync(member.Id, Ct)).BalanceNanos;

        foreach (var (path, form) in new (string, Dictionary<string, string>)[]
        {
            ("/admin/credits", new() { ["Form.Email"] = member.Email, ["Form.Amount"] = "1000", ["Form.Note"] = "free money" }),
            ($"/admin/accounts/{other.Id}?handler=Disable", new() { ["disabled"] = "true" }),
            ($"/admin/accounts/{member.Id}?handler=Role", new() { ["role"] = "owner" }),
            ("/admin/accounts?handler=Invite", new() { ["Form.Role"] = "owner", ["Form.Days"] = "7" }),
        })
        {
            form["__csrf"] = token;
            using var response = await client.PostAsync(path, new FormUrlEncodedContent(form), Ct);
            Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
            Assert.StartsWith("/forbidden", response.Headers.Location!.PathAndQuery, StringComparison.Ordinal);
        }

        Assert.Equal(initial, (await _tollgate.Service<IBillingStore>().GetCreditsAsync(member.Id, Ct)).BalanceNanos);
        Assert.False((await _tollgate.Service<AccountService>().FindAsync(other.Id, Ct))!.Disabled);
        Assert.Equal(AccountRole.Member, (await _tollgate.Service<AccountService>().FindAsync(member.Id, Ct))!.Role);
        Assert.Empty(await _tollgate.Service<AuditLog>().ListAsync(null, null, 10, Ct));
    }
}
