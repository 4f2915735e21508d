using Microsoft.AspNetCore.Mvc;
using Tollgate.ApiKeys;
using Tollgate.Credits;
using Tollgate.Usage;

namespace Tollgate.Dashboard.Usage;

/// <summary>One call's generation record. Another account's generation id is a 404, exactly like one that does not exist.</summary>
internal sealed class CallModel(IUsageStore usage, IApiKeyStore keys) : DashboardPage
{
    public UsageRecord Record { get; private set; } = null!;

    public string? KeyName { get; private set; }

    public async Task<IActionResult> OnGetAsync(string id)
    {
        if (id is not { Length: > 0 and <= 64 } || await usage.FindGenerationAsync(Account.Id, id, HttpContext.RequestAborted) is not { } record)
        {
            return NotFound();
        }

        Record = record;
        KeyName = (await keys.GetAsync(Account.Id, record.KeyId, HttpContext.RequestAborted))?.Name;
        return Page();
    }
}
