using Polly.CircuitBreaker;
using Tollgate.Gateway;
using Tollgate.Models;

namespace Tollgate.Dashboard.Admin;

/// <summary>
/// Admin › Providers, read-only: each configured upstream (type, address, whether it has an API key, never the key),
/// the models it serves, and each deployment's circuit-breaker state in this instance.
/// </summary>
internal sealed class ProvidersModel(ModelCatalog catalog, ChatRouter router) : DashboardPage
{
    internal sealed record DeploymentRow(string ModelId, string UpstreamModel, int Weight, CircuitState? Circuit);

    internal sealed record ProviderRow(string Name, string Type, string? Address, bool HasApiKey, IReadOnlyList<DeploymentRow> Deployments);

    public IReadOnlyList<ProviderRow> Providers { get; private set; } = [];

    public void OnGet()
    {
        Providers = [.. catalog.Providers.Values.OrderBy(p => p.Name, StringComparer.OrdinalIgnoreCase).Select(p => new ProviderRow(
            p.Name, p.Type, SafeAddress(p.BaseUrl), !string.IsNullOrEmpty(p.ApiKey),
            [.. catalog.Models.SelectMany(m => m.Deployments.Where(d => string.Equals(d.Provider, p.Name, StringComparison.OrdinalIgnoreCase))
                .Select(d => new DeploymentRow(m.Id, d.Model, d.Weight, router.CircuitFor(d))))]))];
    }

    /// <summary>The base URL without anything secret in it: no user name or password, no query.</summary>
    public static string? SafeAddress(string? baseUrl) =>
        Uri.TryCreate(baseUrl, UriKind.Absolute, out var uri)
            ? $"{uri.Scheme}://{uri.Host}{(uri.IsDefaultPort ? "" : ":" + uri.Port)}{uri.AbsolutePath.TrimEnd('/')}"
            : null;

    public static (string Label, string Badge, string Note) Describe(CircuitState? state) => state switch
    {
        null => ("closed", "badge-muted", "not called since the server started"),
        CircuitState.Closed => ("closed", "badge-ok", "healthy: calls go through"),
        CircuitState.HalfOpen => ("half-open", "badge-warn", "trying one call to see whether it recovered"),
        CircuitState.Open => ("open", "badge-danger", "failing: skipped until the break ends"),
        _ => ("isolated", "badge-danger", "held open by hand"),
    };
}
