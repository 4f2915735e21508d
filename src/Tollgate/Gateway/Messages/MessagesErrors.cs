namespace Tollgate.Gateway.Messages;

/// <summary>
/// Anthropic's error shape, for <c>/api/v1/messages</c>: <c>{"type":"error","error":{"type":"...","message":"..."},"request_id":"..."}</c>,
/// with the error type Anthropic gives each status.
/// </summary>
internal static class MessagesErrors
{
    public const string PathPrefix = "/api/v1/messages";

    /// <summary>Whether a request speaks Anthropic's Messages API (its errors then take Anthropic's shape).</summary>
    public static bool Applies(HttpContext context) => context.Request.Path.StartsWithSegments(PathPrefix, StringComparison.OrdinalIgnoreCase);

    public static string TypeFor(int status) => status switch
    {
        400 or 405 or 409 or 415 or 422 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        408 or 504 => "timeout_error",
        503 or 529 => "overloaded_error",
        _ => "api_error",
    };
}
