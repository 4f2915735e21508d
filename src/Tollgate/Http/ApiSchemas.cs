namespace Tollgate.Http;

/// <summary>
/// The shapes the OpenAPI generator cannot infer: the error envelopes, and the bodies of the endpoints that read and write
/// JSON themselves (chat completions, Anthropic messages, embeddings). JSON Schema (OpenAPI 3.1); requests allow fields
/// not listed (they are passed on or ignored, never an error), answers list what Tollgate writes.
/// </summary>
internal static class ApiSchemas
{
    internal sealed record Shapes(string Summary, string? Request, IReadOnlyList<(string MediaType, string Schema)> Responses);

    /// <summary>The documented shapes by <c>METHOD /path</c>.</summary>
    public static readonly IReadOnlyDictionary<string, Shapes> Operations = new Dictionary<string, Shapes>(StringComparer.Ordinal)
    {
        ["POST /api/v1/chat/completions"] = new("A chat completion, whole or streamed (server-sent events of chat.completion.chunk, then data: [DONE]).",
            "ChatCompletionRequest", [("application/json", "ChatCompletion"), ("text/event-stream", "ChatCompletionChunk")]),
        ["POST /api/v1/messages"] = new("Anthropic's Messages API: a message, whole or streamed as Anthropic's events.",
            "MessagesRequest", [("application/json", "Message"), ("text/event-stream", "MessageStreamEvent")]),
        ["POST /api/v1/messages/count_tokens"] = new("A prompt's input tokens, as Anthropic's count_tokens answers; not charged.",
            "CountTokensRequest", [("application/json", "CountTokensResponse")]),
        ["POST /api/v1/api-keys"] = new("Create a key: its secret is in the answer, once.", "KeyChanges", []),
        ["PATCH /api/v1/api-keys/{id}"] = new("Change a key's name, limit, models, scopes, expiry or status.", "KeyChanges", []),
        ["POST /api/v1/api-keys/{id}/rotate"] = new("A new secret for a key; the old one keeps working for the grace period.", "KeyRotation", []),
        ["POST /api/v1/admin/credits"] = new("Grant (or, negative, adjust) an account's credits, with a note.", "CreditGrant", []),
        ["POST /api/v1/embeddings"] = new("Embeddings of a string or an array of strings, billed per input token.",
            "EmbeddingsRequest", [("application/json", "EmbeddingsResponse")]),
    };

    public static readonly IReadOnlyList<(string Name, string Json)> All =
    [
        ("Error", """
            {"type":"object","required":["error"],"description":"Every error of /api/v1 (but the Messages API): the status code, a message naming the problem, and details.",
             "properties":{"error":{"type":"object","required":["code","message","metadata"],"additionalProperties":true,
               "properties":{"code":{"type":"integer"},"message":{"type":"string"},
                 "metadata":{"type":"object","additionalProperties":true,"description":"request_id, and for some errors reason, required_scope, provider_name, raw..."}}}}}
            """),
        ("AnthropicError", """
            {"type":"object","required":["type","error"],"description":"The Messages API's errors, in Anthropic's shape.",
             "properties":{"type":{"const":"error"},
               "error":{"type":"object","required":["type","message"],"properties":{
                 "type":{"enum":["invalid_request_error","authentication_error","billing_error","permission_error","not_found_error","request_too_large","rate_limit_error","timeout_error","overloaded_error","api_error"]},
                 "message":{"type":"string"}}},
               "request_id":{"type":["string","null"]}}}
            """),
        ("ChatMessage", """
            {"type":"object","required":["role"],"additionalProperties":true,
             "properties":{"role":{"enum":["system","developer","user","assistant","tool","function"]},
               "content":{"type":["string","array","null"],"items":{"type":"object","additionalProperties":true,"properties":{"type":{"type":"string"}}}},
               "name":{"type":"string"},"tool_call_id":{"type":"string"},
               "tool_calls":{"type":"array","items":{"$ref":"#/components/schemas/ToolCall"}},
               "reasoning_details":{"type":"array","items":{"type":"object","additionalProperties":true}}}}
            """),
        ("ToolCall", """
            {"type":"object","additionalProperties":true,
             "properties":{"index":{"type":"integer"},"id":{"type":"string"},"type":{"const":"function"},
               "function":{"type":"object","additionalProperties":true,"properties":{"name":{"type":"string"},"arguments":{"type":"string"}}}}}
            """),
        ("ChatCompletionRequest", """
            {"type":"object","required":["model","messages"],"additionalProperties":true,
             "properties":{
               "model":{"type":"string","description":"A model id of the catalogue, provider/model.","examples":["demo/echo"]},
               "messages":{"type":"array","minItems":1,"items":{"$ref":"#/components/schemas/ChatMessage"}},
               "models":{"type":"array","items":{"type":"string"},"description":"Fallback models, tried in order."},
               "stream":{"type":"boolean","default":false},
               "stream_options":{"type":"object","properties":{"include_usage":{"type":"boolean"}}},
               "max_tokens":{"type":"integer","minimum":1},"max_completion_tokens":{"type":"integer","minimum":1},
               "n":{"type":"integer","minimum":1},"temperature":{"type":"number"},"top_p":{"type":"number"},
               "stop":{"type":["string","array"],"items":{"type":"string"}},
               "tools":{"type":"array","items":{"type":"object","additionalProperties":true}},
               "tool_choice":{"type":["string","object"]},
               "provider":{"type":"object","additionalProperties":true,"properties":{"order":{"type":"array","items":{"type":"string"}},"allow_fallbacks":{"type":"boolean"}}},
               "reasoning":{"type":"object","properties":{"effort":{"enum":["minimal","low","medium","high"]},"max_tokens":{"type":"integer"},"exclude":{"type":"boolean"},"enabled":{"type":"boolean"}}},
               "reasoning_effort":{"type":"string"},"include_reasoning":{"type":"boolean"},"user":{"type":"string"}}}
            """),
        ("ChatUsage", """
            {"type":"object","required":["prompt_tokens","completion_tokens","total_tokens","cost"],
             "properties":{"prompt_tokens":{"type":"integer"},"completion_tokens":{"type":"integer"},"total_tokens":{"type":"integer"},
               "prompt_tokens_details":{"type":"object","properties":{"cached_tokens":{"type":"integer"},"cache_write_tokens":{"type":"integer"}}},
               "completion_tokens_details":{"type":"object","properties":{"reasoning_tokens":{"type":"integer"}}},
               "cost":{"type":"number","description":"USD, as charged."}}}
            """),
        ("ChatCompletion", """
            {"type":"object","required":["id","object","created","model","choices","usage"],"additionalProperties":true,
             "properties":{"id":{"type":"string","description":"The generation id (also X-Generation-Id)."},"object":{"const":"chat.completion"},
               "created":{"type":"integer"},"model":{"type":"string"},
               "choices":{"type":"array","items":{"type":"object","required":["index","message","finish_reason"],"additionalProperties":true,
                 "properties":{"index":{"type":"integer"},"message":{"$ref":"#/components/schemas/ChatMessage"},
                   "finish_reason":{"type":["string","null"]},"native_finish_reason":{"type":["string","null"]}}}},
               "usage":{"$ref":"#/components/schemas/ChatUsage"}}}
            """),
        ("ChatCompletionChunk", """
            {"type":"object","required":["id","object","created","model","choices"],"additionalProperties":true,
             "description":"One data: event of a stream. The last carries usage and no choices; a failure after the start carries error.",
             "properties":{"id":{"type":"string"},"object":{"const":"chat.completion.chunk"},"created":{"type":"integer"},"model":{"type":"string"},
               "choices":{"type":"array","items":{"type":"object","additionalProperties":true,"properties":{"index":{"type":"integer"},
                 "delta":{"type":"object","additionalProperties":true,"properties":{"role":{"type":"string"},"content":{"type":["string","null"]},
                   "reasoning":{"type":"string"},"tool_calls":{"type":"array","items":{"$ref":"#/components/schemas/ToolCall"}}}},
                 "finish_reason":{"type":["string","null"]}}}},
               "usage":{"$ref":"#/components/schemas/ChatUsage"},
               "error":{"type":"object","properties":{"code":{"type":"integer"},"message":{"type":"string"},"metadata":{"type":"object"}}}}}
            """),
        ("MessagesRequest", """
            {"type":"object","required":["model","max_tokens","messages"],"additionalProperties":true,
             "properties":{"model":{"type":"string","examples":["demo/echo"]},"max_tokens":{"type":"integer","minimum":1},
               "messages":{"type":"array","minItems":1,"items":{"type":"object","required":["role","content"],"additionalProperties":true,
                 "properties":{"role":{"enum":["user","assistant"]},"content":{"type":["string","array"],"items":{"type":"object","additionalProperties":true,"properties":{"type":{"type":"string"}}}}}}},
               "system":{"type":["string","array"]},"stream":{"type":"boolean"},"temperature":{"type":"number"},"top_p":{"type":"number"},"top_k":{"type":"integer"},
               "stop_sequences":{"type":"array","items":{"type":"string"}},"tools":{"type":"array","items":{"type":"object","additionalProperties":true}},
               "tool_choice":{"type":"object","additionalProperties":true},"thinking":{"type":"object","additionalProperties":true},
               "metadata":{"type":"object","additionalProperties":true}}}
            """),
        ("AnthropicUsage", """
            {"type":"object","required":["input_tokens","output_tokens"],"properties":{"input_tokens":{"type":"integer"},
             "cache_creation_input_tokens":{"type":"integer"},"cache_read_input_tokens":{"type":"integer"},"output_tokens":{"type":"integer"}}}
            """),
        ("Message", """
            {"type":"object","required":["id","type","role","model","content","stop_reason","usage"],"additionalProperties":true,
             "properties":{"id":{"type":"string","description":"The generation id."},"type":{"const":"message"},"role":{"const":"assistant"},"model":{"type":"string"},
               "content":{"type":"array","items":{"type":"object","required":["type"],"additionalProperties":true,
                 "properties":{"type":{"enum":["text","thinking","redacted_thinking","tool_use"]},"text":{"type":"string"},"thinking":{"type":"string"},
                   "signature":{"type":"string"},"data":{"type":"string"},"id":{"type":"string"},"name":{"type":"string"},"input":{"type":"object"}}}},
               "stop_reason":{"type":["string","null"]},"stop_sequence":{"type":["string","null"]},
               "usage":{"$ref":"#/components/schemas/AnthropicUsage"}}}
            """),
        ("MessageStreamEvent", """
            {"type":"object","required":["type"],"additionalProperties":true,"description":"The data of one event (event: TYPE).",
             "properties":{"type":{"enum":["message_start","ping","content_block_start","content_block_delta","content_block_stop","message_delta","message_stop","error"]},
               "index":{"type":"integer"},"message":{"$ref":"#/components/schemas/Message"},"content_block":{"type":"object"},"delta":{"type":"object"},
               "usage":{"$ref":"#/components/schemas/AnthropicUsage"},"error":{"type":"object"}}}
            """),
        ("CountTokensRequest", """
            {"type":"object","required":["model","messages"],"additionalProperties":true,
             "properties":{"model":{"type":"string"},"messages":{"type":"array","items":{"type":"object"}},"system":{"type":["string","array"]},
               "tools":{"type":"array","items":{"type":"object"}}}}
            """),
        ("CountTokensResponse", """
            {"type":"object","required":["input_tokens"],"properties":{"input_tokens":{"type":"integer"}}}
            """),
        ("KeyChanges", """
            {"type":"object","description":"Create: name is required, and a field left out is inherited from the calling key. Update: a field left out stays, null clears it.",
             "properties":{"name":{"type":"string","minLength":1,"maxLength":100},
               "scopes":{"type":"array","minItems":1,"items":{"enum":["inference","keys:read","keys:write","usage:read","admin"]}},
               "models":{"type":["array","null"],"maxItems":100,"items":{"type":"string","maxLength":200}},
               "disabled":{"type":"boolean"},"limit":{"type":["number","null"],"minimum":0},
               "limit_reset":{"enum":["daily","weekly","monthly",null]},
               "rate_limit":{"type":["object","null"],"properties":{"requests_per_minute":{"type":["integer","null"],"minimum":1}}},
               "expires_at":{"type":["string","null"],"format":"date-time"}}}
            """),
        ("KeyRotation", """
            {"type":"object","properties":{"grace_seconds":{"type":"integer","minimum":0,"description":"How long the previous secret keeps working (inference and reads only)."}}}
            """),
        ("CreditGrant", """
            {"type":"object","required":["amount"],"description":"One of email or account_id names the account.",
             "properties":{"email":{"type":"string"},"account_id":{"type":"string"},"amount":{"type":"number","description":"USD; negative adjusts down; not 0."},
               "note":{"type":["string","null"],"maxLength":500}}}
            """),
        ("EmbeddingsRequest", """
            {"type":"object","required":["model","input"],"additionalProperties":true,
             "properties":{"model":{"type":"string","examples":["demo/embed"]},
               "input":{"oneOf":[{"type":"string","minLength":1},{"type":"array","minItems":1,"maxItems":2048,"items":{"type":"string","minLength":1}}]},
               "encoding_format":{"enum":["float","base64"],"default":"float"},"dimensions":{"type":"integer","minimum":1,"maximum":16384},
               "user":{"type":"string"}}}
            """),
        ("EmbeddingsResponse", """
            {"type":"object","required":["object","data","model","usage","id"],"additionalProperties":true,
             "properties":{"object":{"const":"list"},"id":{"type":"string","description":"The generation id."},"model":{"type":"string"},
               "data":{"type":"array","items":{"type":"object","required":["object","index","embedding"],"properties":{"object":{"const":"embedding"},
                 "index":{"type":"integer"},"embedding":{"oneOf":[{"type":"array","items":{"type":"number"}},{"type":"string","description":"base64 of little-endian float32"}]}}}},
               "usage":{"type":"object","required":["prompt_tokens","total_tokens","cost"],"properties":{"prompt_tokens":{"type":"integer"},
                 "total_tokens":{"type":"integer"},"cost":{"type":"number"}}}}}
            """),
    ];
}
