using System.Text.Json;
using Microsoft.Extensions.Options;

namespace Tollgate.Http;

/// <summary>
/// Turns every failure into the SPEC section 2 envelope: exceptions (client errors and bugs),
/// oversized bodies, unknown routes and wrong methods. A 500 never carries a stack trace.
/// </summary>
internal static partial class ErrorHandling
{
    /// <summary>Registers the request limits that the error pipeline enforces.</summary>
    public static WebApplicationBuilder AddErrorHandling(this WebApplicationBuilder builder)
    {
        builder.AddRequestLogging();
        builder.Services.AddOptions<LimitsOptions>()
            .BindConfiguration(LimitsOptions.Section)
            .Validate(o => o.MaxRequestBodyBytes is >= 1024 and <= 1L << 30,
                $"{LimitsOptions.Section}:MaxRequestBodyBytes must be between 1024 and 1073741824")
            .ValidateOnStart();
        builder.Services.AddOptions<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>()
            .Configure<IOptions<LimitsOptions>>((kestrel, limits) =>
            {
                kestrel.Limits.MaxRequestBodySize = limits.Value.MaxRequestBodyBytes;
                kestrel.AddServerHeader = false;
            });
        return builder;
    }

    /// <summary>Request id, exception mapping and the early body-size check, outermost first.</summary>
    public static WebApplication UseErrorHandling(this WebApplication app)
    {
        app.UseRequestId();
        app.UseRequestLogging();
        app.Use(HandleExceptionsAsync);
        app.UseStatusCodePages(context => WriteStatusCodePageAsync(context.HttpContext));
        app.Use(RejectOversizedBodies);
        return app;
    }

    private static async Task HandleExceptionsAsync(HttpContext context, RequestDelegate next)
    {
        try
        {
            await next(context);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; there is nobody to answer.
        }
        catch (Exception exception)
        {
            await WriteExceptionAsync(context, exception);
        }
    }

    private static async Task RejectOversizedBodies(HttpContext context, RequestDelegate next)
    {
        // Refuse up front when the client declares the size, before handing the body to an endpoint.
        var limit = context.RequestServices.GetRequiredService<IOptions<LimitsOptions>>().Value.MaxRequestBodyBytes;
        var length = context.Request.ContentLength;
        if (length is null || length <= limit)
        {
            await next(context);
            return;
        }

        // A client that waits for "100 Continue" never sends the body. One that sends it anyway
        // (most do) only sees the answer if the body is read, so read and drop a bounded amount;
        // past that bound the connection is closed after the answer.
        var expectsContinue = context.Request.Headers.Expect.ToString().Contains("100-continue", StringComparison.OrdinalIgnoreCase);
        if (!expectsContinue && length <= Math.Max(limit * 4, DrainBound))
        {
            await DrainAsync(context, length.Value);
        }

        await ApiError.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, TooLargeMessage(limit));
    }

    private const long DrainBound = 64L * 1024 * 1024;

    private static async Task DrainAsync(HttpContext context, long length)
    {
        if (context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
        {
            size.MaxRequestBodySize = length;
        }

        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            while (await context.Request.Body.ReadAsync(buffer, context.RequestAborted) > 0)
            {
            }
        }
        catch (Exception exception) when (exception is IOException or BadHttpRequestException or OperationCanceledException)
        {
            // The client stopped sending; the answer below still goes out if the connection lives.
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static string TooLargeMessage(long limit) =>
        $"Request body too large: the limit is {limit} bytes";

    internal static Task WriteExceptionAsync(HttpContext context, Exception exception)
    {
        switch (exception)
        {
            case ApiException api:
                return ApiError.WriteAsync(context, api.StatusCode, api.Message, api.Metadata, errorFields: api.ErrorFields);

            case BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge }:
                var limit = context.RequestServices.GetRequiredService<IOptions<LimitsOptions>>().Value.MaxRequestBodyBytes;
                return ApiError.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, TooLargeMessage(limit));

            case BadHttpRequestException { InnerException: JsonException json }:
                return ApiError.WriteAsync(context, StatusCodes.Status400BadRequest, MalformedJsonMessage(json));

            case JsonException json:
                return ApiError.WriteAsync(context, StatusCodes.Status400BadRequest, MalformedJsonMessage(json));

            case BadHttpRequestException bad:
                return ApiError.WriteAsync(context, bad.StatusCode, bad.Message);

            default:
                var logger = context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(ErrorHandling));
                Log.UnhandledException(logger, context.Request.Method, RequestLogging.SafePath(context.Request.Path), exception);
                if (!context.Response.HasStarted && Dashboard.ErrorPage.Wants(context))
                {
                    context.Response.Clear();
                    return Dashboard.ErrorPage.WriteAsync(context, StatusCodes.Status500InternalServerError);
                }

                return ApiError.WriteAsync(context, StatusCodes.Status500InternalServerError, "Internal server error");
        }
    }

    internal static string MalformedJsonMessage(JsonException json) =>
        $"Request body is not valid JSON: {json.Message}";

    private static Task WriteStatusCodePageAsync(HttpContext context)
    {
        if (Dashboard.ErrorPage.Wants(context))
        {
            return Dashboard.ErrorPage.WriteAsync(context, context.Response.StatusCode);
        }

        var request = context.Request;
        var route = $"{request.Method} {Truncate(request.Path.Value ?? "/", 200)}";
        return context.Response.StatusCode switch
        {
            StatusCodes.Status404NotFound => ApiError.WriteAsync(context, 404, $"Not found: no endpoint matches {route}"),
            StatusCodes.Status405MethodNotAllowed => ApiError.WriteAsync(context, 405,
                $"Method not allowed: {route}; allowed: {context.Response.Headers.Allow}"),
            var status => ApiError.WriteAsync(context, status, ReasonPhrase(status)),
        };
    }

    private static string ReasonPhrase(int status) =>
        Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status) is { Length: > 0 } phrase ? phrase : "Error";

    private static string Truncate(string value, int max) => value.Length <= max ? value : value[..max] + "...";

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Error, "Unhandled exception for {Method} {Path}")]
        public static partial void UnhandledException(ILogger logger, string method, string path, Exception exception);
    }
}

/// <summary>Limits on what a client controls.</summary>
internal sealed class LimitsOptions
{
    public const string Section = "Tollgate:Limits";

    /// <summary>Largest request body accepted, in bytes (default 8 MiB: room for a few base64 images).</summary>
    public long MaxRequestBodyBytes { get; set; } = 8 * 1024 * 1024;
}
