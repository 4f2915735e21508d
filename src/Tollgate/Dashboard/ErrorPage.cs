using System.Net;

namespace Tollgate.Dashboard;

/// <summary>
/// Errors for people: a browser that asks for a page outside <c>/api</c> gets a plain HTML page in the
/// dashboard's style instead of the JSON envelope (which API clients, and anything not asking for HTML, keep).
/// </summary>
internal static class ErrorPage
{
    public static bool Wants(HttpContext context)
    {
        var path = context.Request.Path;
        if (path.StartsWithSegments("/api", StringComparison.OrdinalIgnoreCase) || path.StartsWithSegments("/metrics") ||
            path.StartsWithSegments("/healthz") || path.StartsWithSegments("/readyz"))
        {
            return false;
        }

        return context.Request.Headers.Accept.ToString().Contains("text/html", StringComparison.OrdinalIgnoreCase);
    }

    public static Task WriteAsync(HttpContext context, int status)
    {
        var (title, message) = status switch
        {
            400 when HttpMethods.IsPost(context.Request.Method) =>
                ("The form could not be sent", "It expired or did not come from this site. Go back, reload the page and try again."),
            400 => ("Bad request", "The address or the form has a mistake in it."),
            403 => ("Not allowed", "You cannot open that page."),
            404 => ("Page not found", "There is no page at this address."),
            405 => ("Not allowed", "That page cannot be used that way."),
            413 => ("Too large", "What was sent is larger than this Tollgate accepts."),
            429 => ("Slow down", "Too many requests. Wait a moment and try again."),
            >= 500 => ("Something went wrong", "Tollgate could not finish this request. Try again; if it keeps happening, tell the operator the request id below."),
            _ => ("Error", "The request could not be completed."),
        };
        var requestId = WebUtility.HtmlEncode(context.TraceIdentifier);
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/html; charset=utf-8";
        return context.Response.WriteAsync($$"""
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="color-scheme" content="light dark"><title>{{title}} · Tollgate</title>
            <link rel="stylesheet" href="/css/dashboard.css"></head>
            <body><main class="auth"><div class="auth-card"><div class="card"><div class="card-body">
            <h1>{{title}}</h1><p class="lead">{{message}}</p>
            <p class="muted small">Error {{status}}{{(requestId.Length > 0 ? " · request " + requestId : "")}}</p>
            <a class="btn btn-block" href="/">Back to the dashboard</a>
            </div></div></div></main></body></html>
            """);
    }
}
