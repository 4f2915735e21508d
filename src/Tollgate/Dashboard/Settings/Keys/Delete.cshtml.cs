using Microsoft.AspNetCore.Mvc;
using Tollgate.ApiKeys;
using Tollgate.Http;

namespace Tollgate.Dashboard.Settings.Keys;

/// <summary>
/// The confirmation before a delete: one key (<c>/settings/keys/{id}/delete</c>), or the keys picked in the list
/// (<c>/settings/keys/selected/delete?ids=...</c>, owners and admins). Ids of other accounts are left out, unseen.
/// </summary>
internal sealed class DeleteKeyModel(ApiKeyService keys, Audit.AuditLog audit) : DashboardPage
{
    public const int MaxKeys = 200;

    public string Id { get; private set; } = "";

    public IReadOnlyList<ApiKey> Keys { get; private set; } = [];

    public async Task<IActionResult> OnGetAsync(string id, string[]? ids)
    {
        Id = id;
        Keys = await FindAsync(id, ids);
        return Keys.Count == 0 ? NotFound() : Page();
    }

    public async Task<IActionResult> OnPostAsync(string id, string[]? ids)
    {
        var found = await FindAsync(id, ids);
        if (found.Count == 0)
        {
            return NotFound();
        }

        foreach (var key in found)
        {
            await keys.DeleteAsync(Account.Id, caller: null, key.Id, HttpContext.RequestAborted);
            if (id == "selected")
            {
                await audit.RecordAsync(Account.Id, "key.delete", Account.Id, key.Id, $"{key.Name} ({key.Label}), in bulk", HttpContext.RequestAborted);
            }
        }

        Notice = found.Count == 1 ? $"Deleted \"{found[0].Name}\"." : $"Deleted {found.Count} keys.";
        return Redirect("/settings/keys");
    }

    private async Task<IReadOnlyList<ApiKey>> FindAsync(string id, string[]? ids)
    {
        if (id == "selected" && !Account.IsAdmin)
        {
            return [];
        }

        var wanted = id == "selected" ? (ids ?? []).Distinct(StringComparer.Ordinal).Take(MaxKeys) : [id];
        var found = new List<ApiKey>();
        foreach (var keyId in wanted)
        {
            try
            {
                found.Add(await keys.GetAsync(Account.Id, keyId, HttpContext.RequestAborted));
            }
            catch (ApiException exception) when (exception.StatusCode == StatusCodes.Status404NotFound)
            {
            }
        }

        return found;
    }
}
