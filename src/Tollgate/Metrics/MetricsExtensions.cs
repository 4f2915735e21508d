using Microsoft.Extensions.Options;
using Tollgate.Configuration;

namespace Tollgate.Metrics;

internal static class MetricsExtensions
{
    /// <summary>Registers the Prometheus metrics (<c>Tollgate:Metrics</c>): this app's registry and the chat metrics the gateway records.</summary>
    public static IHostApplicationBuilder AddMetrics(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<MetricsOptions>().BindConfiguration(MetricsOptions.Section).ValidateSettings(o => o.Validate());
        builder.Services.AddSingleton<GatewayMetrics>();
        return builder;
    }

    /// <summary>
    /// Maps <c>GET /metrics</c> (<c>Tollgate:Metrics:Path</c>) in the Prometheus text format, unless
    /// switched off. It is anonymous on purpose: Prometheus scrapes without credentials. It shows model
    /// ids, provider names and totals, never a key or a prompt; keep it private with the bind address
    /// or the reverse proxy (docs/metrics.md).
    /// </summary>
    public static IEndpointRouteBuilder MapMetrics(this IEndpointRouteBuilder app)
    {
        var options = app.ServiceProvider.GetRequiredService<IOptions<MetricsOptions>>().Value;
        if (options.Enabled)
        {
            var registry = app.ServiceProvider.GetRequiredService<GatewayMetrics>().Registry;
            Prometheus.MetricServerMiddlewareExtensions.MapMetrics(app, options.Path, registry).AllowAnonymous();
        }

        return app;
    }
}
