using System.Globalization;
using Tollgate.Models;

namespace Tollgate.Dashboard.Models;

/// <summary>
/// The model catalogue: what each model id costs, per token and per million tokens, its context window and longest answer.
/// A model without prices says "unpriced", never $0. Searched on the server (the catalogue is configuration, held in memory).
/// </summary>
internal sealed class ModelsModel(ModelCatalog catalog) : DashboardPage
{
    public const int MaxSearchLength = 100;

    public string? Search { get; private set; }

    public IReadOnlyList<ModelDefinition> Models { get; private set; } = [];

    public int Total => catalog.Models.Count;

    public void OnGet(string? q)
    {
        Search = string.IsNullOrWhiteSpace(q) ? null : q.Trim()[..Math.Min(q.Trim().Length, MaxSearchLength)];
        Models = [.. catalog.Models.Where(m => Search is null
            || m.Id.Contains(Search, StringComparison.OrdinalIgnoreCase)
            || m.Name?.Contains(Search, StringComparison.OrdinalIgnoreCase) == true
            || m.Description?.Contains(Search, StringComparison.OrdinalIgnoreCase) == true)];
    }

    /// <summary>A per-token price written out in full ("$0.000003"), so nothing is rounded away.</summary>
    public static string PerToken(decimal usd) => "$" + usd.ToString("0.############", CultureInfo.InvariantCulture);

    /// <summary>The same price per million tokens, the way people compare models ("$3.00").</summary>
    public static string PerMillion(decimal usd)
    {
        var million = usd * 1_000_000m;
        return "$" + (million >= 0.01m || million == 0 ? million.ToString("#,##0.00##", CultureInfo.InvariantCulture) : million.ToString("0.######", CultureInfo.InvariantCulture));
    }

    public static string Tokens(int count) => count.ToString("N0", CultureInfo.InvariantCulture);

    public static string Providers(ModelDefinition model) =>
        string.Join(", ", model.Deployments.Select(d => d.Provider).Distinct(StringComparer.OrdinalIgnoreCase)) is { Length: > 0 } names ? names : "demo";
}
