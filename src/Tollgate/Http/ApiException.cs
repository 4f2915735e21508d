namespace Tollgate.Http;

/// <summary>
/// An error the client caused or must be told about, turned into the SPEC section 2 envelope
/// by <see cref="ErrorHandling"/>. Thrown only on error paths, never on the happy path.
/// </summary>
internal sealed class ApiException(int statusCode, string message, IReadOnlyDictionary<string, object?>? metadata = null)
    : Exception(message)
{
    public int StatusCode { get; } = statusCode;

    public IReadOnlyDictionary<string, object?> Metadata { get; } = metadata ?? new Dictionary<string, object?>();

    /// <summary>Extra fields of the error object beside <c>code</c> (402's <c>current_balance</c>, which some clients read there).</summary>
    public IReadOnlyDictionary<string, object?>? ErrorFields { get; init; }

    public static ApiException BadRequest(string message, string? param = null) =>
        new(StatusCodes.Status400BadRequest, message, param is null ? null : new Dictionary<string, object?> { ["param"] = param });

    public static ApiException NotFound(string message) => new(StatusCodes.Status404NotFound, message);

    public static ApiException Forbidden(string message, string reason, string? requiredScope) =>
        new(StatusCodes.Status403Forbidden, message, new Dictionary<string, object?>
        {
            ["reason"] = reason,
            ["required_scope"] = requiredScope,
        });
}
