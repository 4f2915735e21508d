using System.Text.Json.Nodes;
using Tollgate.Providers;
using Tollgate.Providers.Anthropic;

namespace Tollgate.Tests.Providers;

public sealed class AnthropicTranslatorTests
{
    private const long Created = 1760000000;

    // ---- Request: OpenAI -> Anthropic ----

    [Fact]
    public void ToAnthropicRequest_PlainUserMessage_UsesUpstreamModelDefaultMaxTokensAndTextBlock()
    {
        var request = Obj("""{"model":"anthropic/claude-sonnet-4-6","messages":[{"role":"user","content":"Hi"}]}""");

        var result = AnthropicTranslator.ToAnthropicRequest(request, "claude-sonnet-4-6", 8192);

        AssertJson("""
            {"model":"claude-sonnet-4-6","max_tokens":8192,
             "messages":[{"role":"user","content":[{"type":"text","text":"Hi"}]}]}
            """, result);
    }

    [Theory]
    [InlineData("""{"max_completion_tokens":100,"max_tokens":200}""", 100)]
    [InlineData("""{"max_tokens":200}""", 200)]
    [InlineData("""{"max_completion_tokens":null,"max_tokens":300}""", 300)]
    [InlineData("""{}""", 4096)]
    public void ToAnthropicRequest_MaxTokens_PrefersMaxCompletionTokensThenMaxTokensThenDefault(string fields, int expected)
    {
        var request = Obj(fields);
        request["messages"] = Arr("""[{"role":"user","content":"Hi"}]""");

        var result = AnthropicTranslator.ToAnthropicRequest(request, "m", 4096);

        Assert.Equal(expected, (int)result["max_tokens"]!);
    }

    [Fact]
    public void ToAnthropicRequest_PlainSystemAndDeveloperMessages_JoinedIntoSystemString()
    {
        var request = Obj("""
            {"messages":[
              {"role":"system","content":"You are terse."},
              {"role":"user","content":"Hi"},
              {"role":"developer","content":[{"type":"text","text":"Answer in French."}]}
            ]}
            """);

        var result = AnthropicTranslator.ToAnthropicRequest(request, "m", 1024);

        Assert.Equal("You are terse.\n\nAnswer in French.", (string)result["system"]!);
        AssertJson("""[{"role":"user","content":[{"type":"text","text":"Hi"}]}]""", result["messages"]);
    }

    [Fact]
    public void ToAnthropicRequest_SystemPartWithCacheControl_UsesTextBlocksKeepingCacheControl()
    {
        var request = Obj("""
            {"messages":[
              {"role":"system","content":"Rules."},
              {"role":"system","content":[{"type":"text","text":"Big document","cache_control":{"type":"ephemeral"}}]},
              {"role":"user","content":"Hi"}
            ]}
            """);

        var result = AnthropicTranslator.ToAnthropicRequest(request, "m", 1024);

        AssertJson("""
            [{"type":"text","text":"Rules."},
             {"type":"text","text":"Big document","cache_control":{"type":"ephemeral"}}]
            """, result["system"]);
    }

    [Fact]
    public void ToAnthropicRequest_ConsecutiveSameRoleMessages_MergedIntoAlternatingTurns()
    {
        var request = Obj("""
            {"messages":[
              {"role":"user","content":"one"},
              {"role":"user","content":[{"type":"text","text":"two","cache_control":{"type":"ephemeral"}}]},
              {"role":"assistant","content":"three"},
              {"role":"assistant","content":[{"type":"text","text":"four"}]},
              {"role":"user","content":""},
              {"role":"user","content":"five"}
            ]}
            """);

        var result = AnthropicTranslator.ToAnthropicRequest(request, "m", 1024);

        AssertJson("""
            [{"role":"user","content":[{"type":"text","text":"one"},{"type":"text","text":"two","cache_control":{"type":"ephemeral"}}]},
             {"role":"assistant","content":[{"type":"text","text":"three"},{"type":"text","text":"four"}]},
             {"role":"user","content":[{"type":"text","text":"five"}]}]
            """, result["messages"]);
    }

    [Fact]
    public void ToAnthropicRequest_ImageParts_DataUrlBecomesBase64AndHttpUrlBecomesUrlSource()
    {
        var request = Obj("""
            {"messages":[{"role":"user","content":[
              {"type":"text","text":"Compare"},
              {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo=","detail":"high"}},
              {"type":"image_url","image_url":{"url":"https://example.com/cat.jpg"},"cache_control":{"type":"ephemeral"}}
            ]}]}
            """);

        var result = AnthropicTranslator.ToAnthropicRequest(request, "m", 1024);

        AssertJson("""
            [{"role":"user","content":[
              {"type":"text","text":"Compare"},
              {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},
              {"type":"image","source":{"type":"url","url":"https://example.com/cat.jpg"},"cache_control":{"type":"ephemeral"}}
            ]}]
            """, result["messages"]);
    }

    [Fact]
    public void ToAnthropicRequest_FunctionTools_BecomeAnthropicToolsWithInputSchema()
    {
        var request = Obj("""
            {"messages":[{"role":"user","content":"Weather?"}],
             "tools":[
               {"type":"function","function":{"name":"get_weather","description":"Current weather",
                 "parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}},
               {"type":"function","function":{"name":"now"}}
             ]}
            """);

        var result = AnthropicTranslator.ToAnthropicRequest(request, "m", 1024);

        AssertJson("""
            [{"name":"get_weather","description":"Current weather",
              "input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}},
             {"name":"now","input_schema":{"type":"object"}}]
            """, result["tools"]);
        Assert.False(result.ContainsKey("tool_choice"));
    }

    [Theory]
    [InlineData("\"auto\"", null, """{"type":"auto"}""")]
    [InlineData("\"required\"", null, """{"type":"any"}""")]
    [InlineData("\"none\"", null, """{"type":"none"}""")]
    [InlineData("""{"type":"function","function":{"name":"get_weather"}}""", null, """{"type":"tool","name":"get_weather"}""")]
    [InlineData("\"auto\"", "false", """{"type":"auto","disable_parallel_tool_use":true}""")]
    [InlineData("\"required\"", "false", """{"type":"any","disable_parallel_tool_use":true}""")]
    [InlineData("""{"type":"function","function":{"name":"get_weather"}}""", "false", """{"type":"tool","name":"get_weather","disable_parallel_tool_use":true}""")]
    [InlineData(null, "false", """{"type":"auto","disable_parallel_tool_use":true}""")]
    [InlineData("\"none\"", "false", """{"type":"none"}""")]
    [InlineData("\"auto\"", "true", """{"type":"auto"}""")]
    public void ToAnthropicRequest_ToolChoiceAndParallelToolCalls_MapToAnthropicToolChoice(string? toolChoice, string? parallel, string expected)
    {
        var request = Obj("""
            {"messages":[{"role":"user","content":"Weather?"}],
             "tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]}
            """);
        if (toolChoice is not null)
        {
            request["tool_choice"] = JsonNode.Parse(toolChoice);
        }

        if (parallel is not null)
        {
            request["parallel_tool_calls"] = JsonNode.Parse(parallel);
        }

        var result = AnthropicTranslator.ToAnthropicRequest(request, "m", 1024);

        AssertJson(expected, result["tool_choice"]);
    }

    [Fact]
    public void ToAnthropicRequest_ToolChoiceWithoutTools_IsDropped()
    {
        var request = Obj("""{"messages":[{"role":"user","content":"Hi"}],"tools":[],"tool_choice":"required","parallel_tool_calls":false}""");

        var result = AnthropicTranslator.ToAnthropicRequest(request, "m", 1024);

        Assert.False(result.ContainsKey("tools"));
        Assert.False(result.ContainsKey("tool_choice"));
    }

    [Fact]
    public void ToAnthropicRequest_AssistantToolCalls_BecomeToolUseBlocksAfterText()
    {
        var request = Obj("""
            {"messages":[
              {"role":"user","content":"Weather in Paris and Rome?"},
              {"role":"assistant","content":"Checking.","tool_calls":[
                {"id":"toolu_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
                {"id":"toolu_2","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Ro"}},
                {"id":"toolu_3","type":"function","function":{"name":"now","arguments":""}}
              ]}
            ]}
            """);

        var result = AnthropicTranslator.ToAnthropicRequest(request, "m", 1024);

        AssertJson("""
            {"role":"assistant","content":[
              {"type":"text","text":"Checking."},
              {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}},
              {"type":"tool_use","id":"toolu_2","name":"get_weather","input":{}},
              {"type":"tool_use","id":"toolu_3","name":"now","input":{}}
            ]}
            """, result["messages"]![1]);
    }

    [Fact]
    public void ToAnthropicRequest_AssistantWithNullContentAndToolCall_HasOnlyToolUseBlock()
    {
        var request = Obj("""
            {"messages":[
              {"role":"user","content":"Time?"},
              {"role":"assistant","content":null,"tool_calls":[{"id":"toolu_1","type":"function","function":{"name":"now","arguments":"{}"}}]}
            ]}
            """);

        var result = AnthropicTranslator.ToAnthropicRequest(request, "m", 1024);

        AssertJson("""{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"now","input":{}}]}""", result["messages"]![1]);
    }

    [Fact]
    public void ToAnthropicRequest_ConsecutiveToolMessagesAndFollowingUser_MergeIntoOneUserTurn()
    {
        var request = Obj("""
            {"messages":[
              {"role":"user","content":"Weather in Paris and Rome?"},
              {"role":"assistant","tool_calls":[
                {"id":"toolu_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
                {"id":"toolu_2","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Rome\"}"}}]},
              {"role":"tool","tool_call_id":"toolu_1","content":"18C"},
              {"role":"tool","tool_call_id":"toolu_2","content":[{"type":"text","text":"24C"}]},
              {"role":"user","content":"And tomorrow?"}
            ]}
            """);

        var result = AnthropicTranslator.ToAnthropicRequest(request, "m", 1024);

        var messages = result["messages"]!.AsArray();
        Assert.Equal(3, messages.Count);
        AssertJson("""
            {"role":"user","content":[
              {"type":"tool_result","tool_use_id":"toolu_1","content":"18C"},
              {"type":"tool_result","tool_use_id":"toolu_2","content":[{"type":"text","text":"24C"}]},
              {"type":"text","text":"And tomorrow?"}
            ]}
            """, messages[2]);
    }

    [Theory]
    [InlineData("\"END\"", """["END"]""")]
    [InlineData("""["END","###"]""", """["END","###"]""")]
    public void ToAnthropicRequest_Stop_BecomesStopSequences(string stop, string expected)
    {
        var request = Obj("""{"messages":[{"role":"user","content":"Hi"}]}""");
        request["stop"] = JsonNode.Parse(stop);

        var result = AnthropicTranslator.ToAnthropicRequest(request, "m", 1024);

        AssertJson(expected, result["stop_sequences"]);
    }

    [Fact]
    public void ToAnthropicRequest_FieldsAnthropicDoesNotKnow_AreDroppedAndKnownOnesPassThrough()
    {
        var request = Obj("""
            {"model":"anthropic/claude-sonnet-4-6","messages":[{"role":"user","content":"Hi"}],
             "temperature":0.3,"top_p":0.9,"stream":true,"user":"user-42",
             "n":1,"logit_bias":{"50256":-100},"presence_penalty":0.5,"frequency_penalty":0.5,"seed":7,
             "response_format":{"type":"json_object"},"stream_options":{"include_usage":true},
             "models":["anthropic/claude-haiku-4-5"],"provider":{"order":["a"]},
             "reasoning":{"effort":"high"},"reasoning_effort":"high","logprobs":true,"some_future_field":1}
            """);

        var result = AnthropicTranslator.ToAnthropicRequest(request, "claude-sonnet-4-6", 1024);

        AssertJson("""
            {"model":"claude-sonnet-4-6","max_tokens":1024,
             "messages":[{"role":"user","content":[{"type":"text","text":"Hi"}]}],
             "temperature":0.3,"top_p":0.9,"stream":true,"metadata":{"user_id":"user-42"}}
            """, result);
    }

    [Fact]
    public void ToAnthropicRequest_AnyRequest_LeavesInputUnchangedAndSharesNoNodes()
    {
        var request = Obj("""
            {"messages":[
              {"role":"system","content":[{"type":"text","text":"S","cache_control":{"type":"ephemeral"}}]},
              {"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/a.png"}}]}],
             "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],
             "stop":["x"],"temperature":1}
            """);
        var before = request.ToJsonString();

        var result = AnthropicTranslator.ToAnthropicRequest(request, "m", 1024);
        result["tools"]![0]!["input_schema"]!["type"] = "changed";
        ((JsonArray)result["system"]!)[0]!["cache_control"]!["type"] = "changed";

        Assert.Equal(before, request.ToJsonString());
    }

    [Theory]
    [InlineData("""{}""", "messages must be a non-empty array")]
    [InlineData("""{"messages":[]}""", "messages must be a non-empty array")]
    [InlineData("""{"messages":[{"role":"system","content":"only system"}]}""", "messages must contain at least one user or assistant message")]
    [InlineData("""{"messages":[{"role":"user","content":"a"},"oops"]}""", "messages[1] must be an object")]
    [InlineData("""{"messages":[{"role":"wizard","content":"a"}]}""", "messages[0].role must be one of")]
    [InlineData("""{"messages":[{"content":"a"}]}""", "messages[0].role must be one of")]
    [InlineData("""{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"},{"role":"user","content":42}]}""", "messages[2].content must be a string or an array of content parts")]
    [InlineData("""{"messages":[{"role":"user"}]}""", "messages[0].content must be a string or an array of content parts")]
    [InlineData("""{"messages":[{"role":"user","content":["a"]}]}""", "messages[0].content[0] must be an object")]
    [InlineData("""{"messages":[{"role":"user","content":[{"type":"input_audio"}]}]}""", "messages[0].content[0].type must be \"text\" or \"image_url\"")]
    [InlineData("""{"messages":[{"role":"user","content":[{"type":"text","text":5}]}]}""", "messages[0].content[0].text must be a string")]
    [InlineData("""{"messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]},{"role":"user","content":"a"}]}""", "messages[0].content[0].type must be \"text\"")]
    [InlineData("""{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://x/y.png"}}]}]}""", "messages[0].content[0].image_url.url must be")]
    [InlineData("""{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,abc"}}]}]}""", "messages[0].content[0].image_url.url must be")]
    [InlineData("""{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{}}]}]}""", "messages[0].content[0].image_url.url must be a string")]
    [InlineData("""{"messages":[{"role":"user","content":"a"},{"role":"assistant","tool_calls":{}}]}""", "messages[1].tool_calls must be an array")]
    [InlineData("""{"messages":[{"role":"user","content":"a"},{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f"}}]}]}""", "messages[1].tool_calls[0].id must be a non-empty string")]
    [InlineData("""{"messages":[{"role":"user","content":"a"},{"role":"assistant","tool_calls":[{"id":"t","function":{}}]}]}""", "messages[1].tool_calls[0].function.name must be a non-empty string")]
    [InlineData("""{"messages":[{"role":"user","content":"a"},{"role":"tool","content":"r"}]}""", "messages[1].tool_call_id must be a non-empty string")]
    [InlineData("""{"messages":[{"role":"user","content":"a"}],"tools":{}}""", "tools must be an array")]
    [InlineData("""{"messages":[{"role":"user","content":"a"}],"tools":[{"type":"code_interpreter"}]}""", "tools[0].type must be \"function\"")]
    [InlineData("""{"messages":[{"role":"user","content":"a"}],"tools":[{"type":"function","function":{"description":"d"}}]}""", "tools[0].function.name must be a non-empty string")]
    [InlineData("""{"messages":[{"role":"user","content":"a"}],"tools":[{"type":"function","function":{"name":"f","parameters":"x"}}]}""", "tools[0].function.parameters must be an object")]
    [InlineData("""{"messages":[{"role":"user","content":"a"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"sometimes"}""", "tool_choice must be")]
    [InlineData("""{"messages":[{"role":"user","content":"a"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function"}}""", "tool_choice.function.name must be a non-empty string")]
    [InlineData("""{"messages":[{"role":"user","content":"a"}],"stop":5}""", "stop must be a string or an array of strings")]
    [InlineData("""{"messages":[{"role":"user","content":"a"}],"stop":["a",1]}""", "stop[1] must be a string")]
    [InlineData("""{"messages":[{"role":"user","content":"a"}],"max_tokens":0}""", "max_tokens must be a positive integer")]
    [InlineData("""{"messages":[{"role":"user","content":"a"}],"max_completion_tokens":"100"}""", "max_completion_tokens must be a positive integer")]
    [InlineData("""{"messages":[{"role":"user","content":"a"}],"temperature":"hot"}""", "temperature must be a number")]
    [InlineData("""{"messages":[{"role":"user","content":"a"}],"stream":"yes"}""", "stream must be a boolean")]
    [InlineData("""{"messages":[{"role":"user","content":"a"}],"user":7}""", "user must be a string")]
    public void ToAnthropicRequest_BadShape_ThrowsArgumentExceptionNamingTheField(string body, string expectedMessageStart)
    {
        var request = Obj(body);

        var exception = Assert.Throws<ArgumentException>(() => AnthropicTranslator.ToAnthropicRequest(request, "m", 1024));

        Assert.StartsWith(expectedMessageStart, exception.Message, StringComparison.Ordinal);
    }

    // ---- Response: Anthropic -> OpenAI ----

    [Fact]
    public void ToOpenAiCompletion_TextToolUseAndCacheUsage_GivesChatCompletion()
    {
        var response = Obj("""
            {"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-6",
             "content":[
               {"type":"thinking","thinking":"hmm","signature":"sig"},
               {"type":"text","text":"Let me check "},
               {"type":"text","text":"the weather."},
               {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris","days":[1,2]}},
               {"type":"tool_use","id":"toolu_2","name":"now","input":{}}
             ],
             "stop_reason":"tool_use","stop_sequence":null,
             "usage":{"input_tokens":10,"cache_read_input_tokens":100,"cache_creation_input_tokens":20,"output_tokens":30}}
            """);

        var result = AnthropicTranslator.ToOpenAiCompletion(response, Created);

        AssertJson("""
            {"id":"msg_01","object":"chat.completion","created":1760000000,"model":"claude-sonnet-4-6",
             "choices":[{"index":0,
               "message":{"role":"assistant","content":"Let me check the weather.","reasoning":"hmm",
                 "reasoning_details":[{"type":"reasoning.text","text":"hmm","signature":"sig","format":"anthropic-claude-v1","index":0}],
                 "tool_calls":[
                 {"id":"toolu_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\",\"days\":[1,2]}"}},
                 {"id":"toolu_2","type":"function","function":{"name":"now","arguments":"{}"}}]},
               "finish_reason":"tool_calls","native_finish_reason":"tool_use"}],
             "usage":{"prompt_tokens":130,"completion_tokens":30,"total_tokens":160,"prompt_tokens_details":{"cached_tokens":100,"cache_write_tokens":20}}}
            """, result);
    }

    [Theory]
    [InlineData("end_turn", "stop")]
    [InlineData("stop_sequence", "stop")]
    [InlineData("pause_turn", "stop")]
    [InlineData("max_tokens", "length")]
    [InlineData("model_context_window_exceeded", "length")]
    [InlineData("tool_use", "tool_calls")]
    [InlineData("refusal", "content_filter")]
    [InlineData("something_new", "stop")]
    public void ToOpenAiCompletion_StopReason_NormalisedAndKeptAsNative(string stopReason, string expected)
    {
        var response = Obj("""{"model":"m","content":[{"type":"text","text":"x"}],"usage":{"input_tokens":1,"output_tokens":1}}""");
        response["stop_reason"] = stopReason;

        var result = AnthropicTranslator.ToOpenAiCompletion(response, Created);

        var choice = result["choices"]![0]!;
        Assert.Equal(expected, (string)choice["finish_reason"]!);
        Assert.Equal(stopReason, (string)choice["native_finish_reason"]!);
    }

    [Fact]
    public void ToOpenAiCompletion_NoTextAndNoUsageNumbers_ContentNullAndZeroUsage()
    {
        var response = Obj("""{"model":"m","content":[],"stop_reason":"end_turn","usage":{}}""");

        var result = AnthropicTranslator.ToOpenAiCompletion(response, Created);

        var message = result["choices"]![0]!["message"]!.AsObject();
        Assert.True(message.ContainsKey("content"));
        Assert.Null(message["content"]);
        Assert.False(message.ContainsKey("tool_calls"));
        AssertJson("""{"prompt_tokens":0,"completion_tokens":0,"total_tokens":0,"prompt_tokens_details":{"cached_tokens":0}}""", result["usage"]);
    }

    [Fact]
    public void ToOpenAiCompletion_NotAMessage_ThrowsUpstream502()
    {
        var response = Obj("""{"type":"error","error":{"type":"api_error","message":"boom"}}""");

        var exception = Assert.Throws<UpstreamException>(() => AnthropicTranslator.ToOpenAiCompletion(response, Created));

        Assert.Equal(502, exception.StatusCode);
    }

    // ---- Streaming ----

    [Fact]
    public void StreamTranslator_TextThenTwoToolUses_GivesExactChunksWithUsageLast()
    {
        var translator = new AnthropicStreamTranslator(Created);
        (string Event, string Data)[] events =
        [
            ("message_start", """{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-6","content":[],"stop_reason":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":5,"cache_read_input_tokens":100,"output_tokens":1}}}"""),
            ("content_block_start", """{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"""),
            ("ping", """{"type":"ping"}"""),
            ("content_block_delta", """{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Checking"}}"""),
            ("content_block_delta", """{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" both."}}"""),
            ("content_block_stop", """{"type":"content_block_stop","index":0}"""),
            ("content_block_start", """{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_a","name":"get_weather","input":{}}}"""),
            ("content_block_delta", """{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}"""),
            ("content_block_delta", """{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\": \"Pa"}}"""),
            ("content_block_delta", """{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"ris\"}"}}"""),
            ("content_block_stop", """{"type":"content_block_stop","index":1}"""),
            ("content_block_start", """{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_b","name":"get_weather","input":{}}}"""),
            ("content_block_delta", """{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"city\":"}}"""),
            ("content_block_delta", """{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":" \"Rome\"}"}}"""),
            ("content_block_stop", """{"type":"content_block_stop","index":2}"""),
            ("message_delta", """{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89}}"""),
            ("message_stop", """{"type":"message_stop"}"""),
        ];

        var chunks = events.SelectMany(e => translator.Translate(e.Event, Obj(e.Data))).ToList();

        const string Head = "\"object\":\"chat.completion.chunk\",\"created\":1760000000,\"model\":\"claude-sonnet-4-6\"";
        AssertJson("""
            [
              {HEAD,"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":{"prompt_tokens":130,"completion_tokens":1,"total_tokens":131,"prompt_tokens_details":{"cached_tokens":100,"cache_write_tokens":5}}},
              {HEAD,"choices":[{"index":0,"delta":{"content":"Checking"},"finish_reason":null}]},
              {HEAD,"choices":[{"index":0,"delta":{"content":" both."},"finish_reason":null}]},
              {HEAD,"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"toolu_a","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]},
              {HEAD,"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\": \"Pa"}}]},"finish_reason":null}]},
              {HEAD,"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"ris\"}"}}]},"finish_reason":null}]},
              {HEAD,"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"toolu_b","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]},
              {HEAD,"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"{\"city\":"}}]},"finish_reason":null}]},
              {HEAD,"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":" \"Rome\"}"}}]},"finish_reason":null}]},
              {HEAD,"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls","native_finish_reason":"tool_use"}]},
              {HEAD,"choices":[],"usage":{"prompt_tokens":130,"completion_tokens":89,"total_tokens":219,"prompt_tokens_details":{"cached_tokens":100,"cache_write_tokens":5}}}
            ]
            """.Replace("HEAD", Head, StringComparison.Ordinal), new JsonArray([.. chunks]));
    }

    [Fact]
    public void StreamTranslator_EventTypeOmitted_UsesTypeFromData()
    {
        var translator = new AnthropicStreamTranslator(Created);
        translator.Translate("", Obj("""{"type":"message_start","message":{"model":"m","usage":{"input_tokens":1}}}"""));

        var chunks = translator.Translate("", Obj("""{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}}"""));

        Assert.Equal("hi", (string)Assert.Single(chunks)["choices"]![0]!["delta"]!["content"]!);
    }

    [Fact]
    public void StreamTranslator_ThinkingBlock_GivesReasoningThenTheSignature_OrNothingWhenExcluded()
    {
        var events = new[]
        {
            ("content_block_start", """{"index":0,"content_block":{"type":"thinking","thinking":""}}"""),
            ("content_block_delta", """{"index":0,"delta":{"type":"thinking_delta","thinking":"Let me think"}}"""),
            ("content_block_delta", """{"index":0,"delta":{"type":"signature_delta","signature":"EqQBCgIYAhIM"}}"""),
            ("content_block_stop", """{"index":0}"""),
            ("content_block_start", """{"index":1,"content_block":{"type":"redacted_thinking","data":"EmwKAhgB"}}"""),
            ("content_block_stop", """{"index":1}"""),
        };
        var translator = new AnthropicStreamTranslator(Created);
        translator.Translate("message_start", Obj("""{"message":{"model":"m","usage":{"input_tokens":1}}}"""));
        var hidden = new AnthropicStreamTranslator(Created, excludeReasoning: true);
        hidden.Translate("message_start", Obj("""{"message":{"model":"m","usage":{"input_tokens":1}}}"""));

        var chunks = events.SelectMany(e => translator.Translate(e.Item1, Obj(e.Item2))).ToList();

        AssertJson("""
            [{"object":"chat.completion.chunk","created":1760000000,"model":"m","choices":[{"index":0,"delta":{"reasoning":"Let me think",
               "reasoning_details":[{"type":"reasoning.text","text":"Let me think","format":"anthropic-claude-v1","index":0}]},"finish_reason":null}]},
             {"object":"chat.completion.chunk","created":1760000000,"model":"m","choices":[{"index":0,"delta":{
               "reasoning_details":[{"type":"reasoning.text","signature":"EqQBCgIYAhIM","format":"anthropic-claude-v1","index":0}]},"finish_reason":null}]},
             {"object":"chat.completion.chunk","created":1760000000,"model":"m","choices":[{"index":0,"delta":{
               "reasoning_details":[{"type":"reasoning.encrypted","data":"EmwKAhgB","format":"anthropic-claude-v1","index":1}]},"finish_reason":null}]}]
            """, new System.Text.Json.Nodes.JsonArray([.. chunks]));
        Assert.Empty(events.SelectMany(e => hidden.Translate(e.Item1, Obj(e.Item2))));
    }

    [Fact]
    public void StreamTranslator_Usage_NullBeforeMessageStartThenLatestKnown()
    {
        var translator = new AnthropicStreamTranslator(Created);
        var before = translator.Usage;

        translator.Translate("message_start", Obj("""{"message":{"model":"m","usage":{"input_tokens":10,"cache_read_input_tokens":4,"output_tokens":1}}}"""));
        translator.Translate("message_delta", Obj("""{"delta":{},"usage":{"output_tokens":7}}"""));
        var afterFirstDelta = translator.Usage;
        translator.Translate("message_delta", Obj("""{"delta":{"stop_reason":"end_turn"},"usage":{"input_tokens":12,"cache_read_input_tokens":null,"output_tokens":9}}"""));

        Assert.Null(before);
        AssertJson("""{"prompt_tokens":14,"completion_tokens":7,"total_tokens":21,"prompt_tokens_details":{"cached_tokens":4}}""", afterFirstDelta);
        AssertJson("""{"prompt_tokens":16,"completion_tokens":9,"total_tokens":25,"prompt_tokens_details":{"cached_tokens":4}}""", translator.Usage);
    }

    [Fact]
    public void StreamTranslator_MessageDeltaWithoutStopReason_ProducesNoChunk()
    {
        var translator = new AnthropicStreamTranslator(Created);
        translator.Translate("message_start", Obj("""{"message":{"model":"m","usage":{"input_tokens":1}}}"""));

        var chunks = translator.Translate("message_delta", Obj("""{"delta":{"stop_reason":null},"usage":{"output_tokens":3}}"""));

        Assert.Empty(chunks);
    }

    [Fact]
    public void StreamTranslator_ErrorEvent_ThrowsWithTypeMessageAndStatus()
    {
        var translator = new AnthropicStreamTranslator(Created);
        translator.Translate("message_start", Obj("""{"message":{"model":"m","usage":{"input_tokens":1}}}"""));

        var exception = Assert.Throws<AnthropicStreamException>(() =>
            translator.Translate("error", Obj("""{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}""")));

        Assert.Equal("overloaded_error", exception.ErrorType);
        Assert.Equal("Overloaded", exception.Message);
        Assert.Equal(503, exception.Status);
    }

    // ---- Errors ----

    [Theory]
    [InlineData(400, "invalid_request_error", 400)]
    [InlineData(401, "authentication_error", 502)]
    [InlineData(403, "permission_error", 502)]
    [InlineData(402, "billing_error", 502)]
    [InlineData(404, "not_found_error", 502)]
    [InlineData(413, "request_too_large", 413)]
    [InlineData(429, "rate_limit_error", 429)]
    [InlineData(500, "api_error", 502)]
    [InlineData(529, "overloaded_error", 503)]
    [InlineData(504, "timeout_error", 408)]
    [InlineData(418, "teapot_error", 502)]
    [InlineData(529, "brand_new_error", 503)]
    public void MapError_AnthropicErrorType_MapsToTollgateStatus(int upstreamStatus, string type, int expected)
    {
        var body = $$$"""{"type":"error","error":{"type":"{{{type}}}","message":"details here"},"request_id":"req_1"}""";

        var (status, message) = AnthropicTranslator.MapError(upstreamStatus, body);

        Assert.Equal(expected, status);
        Assert.Contains(type, message, StringComparison.Ordinal);
        Assert.Contains("details here", message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(400, 400)]
    [InlineData(401, 502)]
    [InlineData(408, 408)]
    [InlineData(413, 413)]
    [InlineData(429, 429)]
    [InlineData(500, 502)]
    [InlineData(502, 502)]
    [InlineData(503, 503)]
    [InlineData(504, 408)]
    [InlineData(529, 503)]
    public void MapError_BodyNotJson_MapsByHttpStatusWithoutEchoingBody(int upstreamStatus, int expected)
    {
        var (status, message) = AnthropicTranslator.MapError(upstreamStatus, "<html><body>cloudflare says no</body></html>");

        Assert.Equal(expected, status);
        Assert.Contains($"HTTP {upstreamStatus}", message, StringComparison.Ordinal);
        Assert.DoesNotContain("cloudflare", message, StringComparison.Ordinal);
    }

    [Fact]
    public void MapError_UpstreamMessageContainsKey_KeyIsRedacted()
    {
        const string Key = "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-ZZ";
        var body = $$$"""{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key {{{Key}}} (Bearer abcdefghijklmnop)"}}""";

        var (status, message) = AnthropicTranslator.MapError(401, body);

        Assert.Equal(502, status);
        Assert.DoesNotContain("sk-ant", message, StringComparison.Ordinal);
        Assert.DoesNotContain("abcdefghijklmnop", message, StringComparison.Ordinal);
        Assert.Contains("credentials", message, StringComparison.Ordinal);
    }

    [Fact]
    public void MapError_LongUpstreamMessage_IsTruncated()
    {
        var body = $$$"""{"type":"error","error":{"type":"invalid_request_error","message":"{{{new string('x', 5000)}}}"}}""";

        var (_, message) = AnthropicTranslator.MapError(400, body);

        Assert.InRange(message.Length, 100, 700);
    }

    private static JsonObject Obj(string json) => JsonNode.Parse(json)!.AsObject();

    private static JsonArray Arr(string json) => JsonNode.Parse(json)!.AsArray();

    private static void AssertJson(string expected, JsonNode? actual)
    {
        var expectedNode = JsonNode.Parse(expected);
        if (!JsonNode.DeepEquals(expectedNode, actual))
        {
            Assert.Fail($"JSON differs.\nExpected: {expectedNode?.ToJsonString()}\nActual:   {actual?.ToJsonString()}");
        }
    }
}
