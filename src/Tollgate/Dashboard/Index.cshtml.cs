using Tollgate.ApiKeys;
using Tollgate.Credits;
using Tollgate.Models;

namespace Tollgate.Dashboard;

/// <summary>The overview: balance, spend, keys, and the first call for an account that has not made one.</summary>
internal sealed class IndexModel(IBillingStore billing, IApiKeyStore keys, ModelCatalog catalog) : DashboardPage
{
    public AccountCredits Credits { get; private set; } = new(0, 0, 0);

    public int KeyCount { get; private set; }

    public string ModelId { get; private set; } = DemoSettings.ModelId;

    public async Task OnGetAsync()
    {
        Credits = await billing.GetCreditsAsync(Account.Id, HttpContext.RequestAborted);
        KeyCount = await keys.CountAsync(Account.Id, HttpContext.RequestAborted);
        ModelId = catalog.Models.Any(m => m.Id == DemoSettings.ModelId) ? DemoSettings.ModelId : catalog.Models.Count > 0 ? catalog.Models[0].Id : DemoSettings.ModelId;
    }
}
