using Tollgate.Http;
using Tollgate.Storage;

namespace Tollgate.Health;

internal static class HealthApi
{
    /// <summary><c>/healthz</c>: the process answers. <c>/readyz</c>: storage answers too.</summary>
    public static IEndpointRouteBuilder MapHealth(this IEndpointRouteBuilder app)
    {
        app.MapGet("/healthz", () => TypedResults.Text("{\"status\":\"ok\"}", "application/json"));
        app.MapGet("/readyz", async (HttpContext context, StorageInitializer storage, CancellationToken cancellationToken) =>
        {
            if (await storage.IsReachableAsync(cancellationToken))
            {
                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync("{\"status\":\"ready\"}", cancellationToken);
                return;
            }

            await ApiError.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, "Storage is not reachable");
        });
        return app;
    }
}
