namespace Tollgate.Http;

/// <summary>
/// Gives every request an id: the client's <c>X-Request-Id</c> when it is sane, else a new one.
/// The id is sent back as <c>x-request-id</c> on every response and repeated in error metadata.
/// </summary>
internal static class RequestId
{
    public const string HeaderName = "x-request-id";
    private const int MaxLength = 128;
    private static readonly object ItemKey = new();

    public static string Get(HttpContext context) =>
        context.Items.TryGetValue(ItemKey, out var id) && id is string s ? s : context.TraceIdentifier;

    /// <summary>Assigns the id before anything else runs, so even a 404 or a 500 carries it.</summary>
    public static IApplicationBuilder UseRequestId(this IApplicationBuilder app) => app.Use((context, next) =>
    {
        var incoming = context.Request.Headers[HeaderName].ToString();
        var id = IsSane(incoming) ? incoming : "req_" + Guid.CreateVersion7().ToString("N");
        context.Items[ItemKey] = id;
        context.TraceIdentifier = id;
        context.Response.Headers[HeaderName] = id;
        return next(context);
    });

    internal static bool IsSane(string value)
    {
        if (value.Length is 0 or > MaxLength)
        {
            return false;
        }

        foreach (var c in value)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':'))
            {
                return false;
            }
        }

        return true;
    }
}
