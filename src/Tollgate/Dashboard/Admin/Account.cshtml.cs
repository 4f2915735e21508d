using Microsoft.AspNetCore.Mvc;
using Tollgate.Accounts;
using Tollgate.ApiKeys;
using Tollgate.Audit;
using Tollgate.Credits;

namespace Tollgate.Dashboard.Admin;

/// <summary>
/// Admin › one account: its role, disabling it (sessions end and keys stop at once), its keys with an admin's delete,
/// its balance with a link to grant credits, and what admins did to it. Every change writes an audit entry.
/// </summary>
internal sealed class AccountModel(AccountService accounts, ApiKeyService keys, IBillingStore billing, AuditLog audit, TimeProvider time)
    : DashboardPage
{
    public const int KeysShown = 50;

    public Account Target { get; private set; } = null!;

    public AccountCredits Credits { get; private set; } = new(0, 0, 0);

    public IReadOnlyList<ApiKey> Keys { get; private set; } = [];

    public bool MoreKeys { get; private set; }

    public IReadOnlyList<AuditEntry> History { get; private set; } = [];

    public string? Error { get; private set; }

    public DateTimeOffset Now => time.GetUtcNow();

    public bool IsSelf => Target.Id == Account.Id;

    public async Task<IActionResult> OnGetAsync(string id) => await LoadAsync(id) ? Page() : NotFound();

    public Task<IActionResult> OnPostRoleAsync(string id, string? role) => ActAsync(id, async target =>
    {
        if (!AccountRoles.TryParse(role, out var parsed))
        {
            throw new ArgumentException("Choose a role: member, admin or owner");
        }

        var changed = await accounts.SetRoleAsync(Account, target.Id, parsed, HttpContext.RequestAborted);
        return $"{changed.DisplayName} is now {AccountRoles.ToName(parsed)}.";
    });

    public Task<IActionResult> OnPostDisableAsync(string id, bool disabled) => ActAsync(id, async target =>
    {
        await accounts.SetDisabledAsync(Account, target.Id, disabled, HttpContext.RequestAborted);
        return disabled
            ? $"{target.DisplayName} is disabled: signed out everywhere, and every key refused from now on."
            : $"{target.DisplayName} is enabled again.";
    });

    public Task<IActionResult> OnPostDeleteKeyAsync(string id, string? keyId) => ActAsync(id, async target =>
    {
        if (keyId is not { Length: > 0 and <= 64 })
        {
            throw new KeyNotFoundException();
        }

        var key = await keys.GetAsync(target.Id, keyId, HttpContext.RequestAborted);
        await keys.DeleteAsync(target.Id, caller: null, keyId, HttpContext.RequestAborted);
        await audit.RecordAsync(Account.Id, "key.delete", target.Id, key.Id, $"{key.Name} ({key.Label})", CancellationToken.None);
        return $"Deleted the key \"{key.Name}\" of {target.DisplayName}; it stopped working at once.";
    });

    private async Task<IActionResult> ActAsync(string id, Func<Account, Task<string>> act)
    {
        if (id is not { Length: <= 64 } || await accounts.FindAsync(id, HttpContext.RequestAborted) is not { } target)
        {
            return NotFound();
        }

        try
        {
            Notice = await act(target);
            return RedirectToPage(new { id });
        }
        catch (ArgumentException refused)
        {
            Error = refused.Message.Split(" (Parameter", 2)[0] + ".";
        }
        catch (KeyNotFoundException)
        {
            Error = "That key is already gone.";
        }
        catch (Http.ApiException missing) when (missing.StatusCode == StatusCodes.Status404NotFound)
        {
            Error = "That key is already gone.";
        }

        Response.StatusCode = StatusCodes.Status400BadRequest;
        await LoadAsync(id);
        return Page();
    }

    private async Task<bool> LoadAsync(string id)
    {
        var cancellation = HttpContext.RequestAborted;
        if (id is not { Length: <= 64 } || await accounts.FindAsync(id, cancellation) is not { } target)
        {
            return false;
        }

        Target = target;
        Credits = await billing.GetCreditsAsync(target.Id, cancellation);
        var page = await keys.ListPageAsync(target.Id, new KeyListQuery(null, KeyStatusFilter.All, null, KeysShown + 1), cancellation);
        Keys = [.. page.Take(KeysShown)];
        MoreKeys = page.Count > KeysShown;
        History = await audit.ListAsync(null, target.Id, 20, cancellation);
        return true;
    }

    public string KeyStatus(ApiKey key) => key.Disabled ? "disabled" : key.IsExpired(Now) ? "expired" : "active";
}
