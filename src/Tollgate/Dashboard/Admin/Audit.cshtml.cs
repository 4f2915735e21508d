using System.Globalization;
using Microsoft.AspNetCore.Mvc;
using Tollgate.Audit;

namespace Tollgate.Dashboard.Admin;

/// <summary>Admin › Audit log: every grant, role change, disabled account, invitation and admin key deletion, newest first, paged by id.</summary>
internal sealed class AuditModel(AuditLog audit) : DashboardPage
{
    public const int PageSize = 50;

    public IReadOnlyList<AuditEntry> Entries { get; private set; } = [];

    public string? AccountFilter { get; private set; }

    public long? Before { get; private set; }

    public long? NextBefore { get; private set; }

    public async Task<IActionResult> OnGetAsync(string? account, string? before)
    {
        if (before is not null)
        {
            if (!long.TryParse(before, NumberStyles.None, CultureInfo.InvariantCulture, out var id) || id <= 0)
            {
                return BadRequest();
            }

            Before = id;
        }

        AccountFilter = account is { Length: > 0 and <= 64 } ? account : null;
        var page = await audit.ListAsync(Before, AccountFilter, PageSize + 1, HttpContext.RequestAborted);
        Entries = [.. page.Take(PageSize)];
        NextBefore = page.Count > PageSize ? Entries[^1].Id : null;
        return Page();
    }

    public string PageLink(long? before) =>
        string.Join('&', new[] { AccountFilter is null ? null : "account=" + Uri.EscapeDataString(AccountFilter), before is { } b ? "before=" + b.ToString(CultureInfo.InvariantCulture) : null }
            .OfType<string>()) is { Length: > 0 } query ? "/admin/audit?" + query : "/admin/audit";
}
