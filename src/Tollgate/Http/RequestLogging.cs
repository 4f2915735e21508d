using System.Diagnostics;
using Tollgate.ApiKeys;

namespace Tollgate.Http;

/// <summary>
/// The request log. ASP.NET Core's own "Request starting/finished" lines print the full URL,
/// query string included, so a key pasted into a URL would reach the logs; they are switched
/// off in code and replaced by this line, which never carries a query string and redacts
/// anything in the path that looks like a key.
/// </summary>
internal static partial class RequestLogging
{
    private const string HostingCategory = "Microsoft.AspNetCore.Hosting.Diagnostics";

    public static WebApplicationBuilder AddRequestLogging(this WebApplicationBuilder builder)
    {
        // Added after the configuration's rules, so it wins over any Logging:LogLevel setting.
        builder.Logging.AddFilter(HostingCategory, LogLevel.Warning);
        return builder;
    }

    public static IApplicationBuilder UseRequestLogging(this IApplicationBuilder app)
    {
        var logger = app.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(RequestLogging).FullName!);
        return app.Use(async (context, next) =>
        {
            if (!logger.IsEnabled(LogLevel.Debug))
            {
                await next(context);
                return;
            }

            var started = Stopwatch.GetTimestamp();
            try
            {
                await next(context);
            }
            finally
            {
                Log.Request(logger, context.Request.Method, SafePath(context.Request.Path), context.Response.StatusCode,
                    Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
        });
    }

    /// <summary>The path with anything shaped like a key replaced, for logs.</summary>
    public static string SafePath(PathString path)
    {
        var value = path.Value ?? "/";
        var at = value.IndexOf(ApiKeySecret.Prefix, StringComparison.Ordinal);
        return at < 0 ? value : value[..at] + "[redacted]";
    }

    private static partial class Log
    {
        [LoggerMessage(10, LogLevel.Debug, "{Method} {Path} answered {StatusCode} in {ElapsedMs:0.000} ms")]
        public static partial void Request(ILogger logger, string method, string path, int statusCode, double elapsedMs);
    }
}
