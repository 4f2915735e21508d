using System.Globalization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Tollgate.Accounts;
using Tollgate.Credits;

namespace Tollgate.Dashboard.Admin;

/// <summary>
/// Admin › Accounts: every account a page at a time (oldest first, searched in storage), with its role, status and
/// balance; and invitations: make a link (shown once: only its hash is kept), see the open ones, revoke one.
/// </summary>
internal sealed class AccountsModel(AccountService accounts, InviteService invites, IBillingStore billing, IOptions<DashboardOptions> dashboard,
    TimeProvider time) : DashboardPage
{
    public const int PageSize = 50;

    public IReadOnlyList<(Account Account, AccountCredits Credits)> Rows { get; private set; } = [];

    public IReadOnlyList<Invite> Invites { get; private set; } = [];

    public string? Search { get; private set; }

    public string? After { get; private set; }

    public string? NextCursor { get; private set; }

    public string Registration => dashboard.Value.Registration.ToLowerInvariant();

    public DateTimeOffset Now => time.GetUtcNow();

    /// <summary>The link of an invitation made by this request: shown once.</summary>
    public string? CreatedLink { get; private set; }

    public string? InviteError { get; private set; }

    [BindProperty]
    public InviteForm Form { get; set; } = new();

    internal sealed class InviteForm
    {
        public string? Email { get; set; }

        public string Role { get; set; } = "member";

        public int Days { get; set; } = 7;
    }

    public async Task<IActionResult> OnGetAsync(string? q, string? after)
    {
        return await LoadAsync(q, after) ? Page() : BadRequest();
    }

    public async Task<IActionResult> OnPostInviteAsync()
    {
        if (!AccountRoles.TryParse(Form.Role, out var role))
        {
            InviteError = "Choose a role: member, admin or owner.";
        }
        else if (!ModelState.IsValid || Form.Days is < 1 or > 30)
        {
            InviteError = "An invitation lasts between 1 and 30 days.";
        }
        else
        {
            try
            {
                var created = await invites.CreateAsync(Account, Form.Email, role, TimeSpan.FromDays(Form.Days), HttpContext.RequestAborted);
                CreatedLink = $"{BaseUrl}/signup?invite={created.Token}";
            }
            catch (ArgumentException refused)
            {
                InviteError = refused.Message.Split(" (Parameter", 2)[0] + ".";
            }
        }

        if (InviteError is not null)
        {
            Response.StatusCode = StatusCodes.Status400BadRequest;
        }

        await LoadAsync(null, null);
        return Page();
    }

    public async Task<IActionResult> OnPostRevokeAsync(string? inviteId)
    {
        Notice = inviteId is { Length: <= 64 } && await invites.RevokeAsync(Account, inviteId, HttpContext.RequestAborted)
            ? "The invitation was revoked: its link no longer works."
            : "That invitation was already used, expired or revoked.";
        return RedirectToPage();
    }

    public string PageLink(string? cursor) =>
        "/admin/accounts" + string.Join('&', new[] { Search is null ? null : "q=" + Uri.EscapeDataString(Search), cursor is null ? null : "after=" + cursor }
            .OfType<string>()) is { Length: > 0 } query ? "/admin/accounts?" + query : "/admin/accounts";

    private async Task<bool> LoadAsync(string? q, string? after)
    {
        Search = string.IsNullOrWhiteSpace(q) ? null : q.Trim()[..Math.Min(q.Trim().Length, 100)];
        AccountCursor? cursor = null;
        if (after is not null)
        {
            var parts = after.Split('.', 2);
            if (parts.Length != 2 || !long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var ms) || ms >= 253402300800000
                || !parts[1].StartsWith("acc_", StringComparison.Ordinal) || parts[1].Length > 64)
            {
                return false;
            }

            cursor = new AccountCursor(DateTimeOffset.FromUnixTimeMilliseconds(ms), parts[1]);
            After = after;
        }

        var cancellation = HttpContext.RequestAborted;
        var page = await accounts.ListPageAsync(Search, cursor, PageSize + 1, cancellation);
        var shown = page.Take(PageSize).ToArray();
        NextCursor = page.Count > PageSize ? $"{shown[^1].CreatedAt.ToUnixTimeMilliseconds()}.{shown[^1].Id}" : null;
        var rows = new List<(Account, AccountCredits)>(shown.Length);
        foreach (var account in shown)
        {
            rows.Add((account, await billing.GetCreditsAsync(account.Id, cancellation)));
        }

        Rows = rows;
        Invites = [.. (await invites.ListAsync(20, cancellation)).Where(i => i.CreatedBy is not null)];
        return true;
    }

    public static string RoleBadge(AccountRole role) => role switch { AccountRole.Owner => "badge-info", AccountRole.Admin => "badge-warn", _ => "badge-muted" };
}
