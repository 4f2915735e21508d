// The playground: sends the form to /playground/chat (the session cookie and the page's form token; the server calls as
// the account's playground key), streams the answer into the transcript, and keeps the curl beside it in step.
// Without this file, "Send" posts the form and the page shows the curl for it.
(() => {
  const root = document.querySelector(".playground");
  const form = document.getElementById("playground-form");
  if (!root || !form) return;

  const transcript = root.querySelector(".transcript");
  const errorBox = root.querySelector("[data-playground-error]");
  const meta = root.querySelector("[data-playground-meta]");
  const send = form.querySelector("[data-playground-send]");
  const curl = document.getElementById("playground-curl");
  const field = (name) => document.getElementById(`Form_${name}`);
  const token = form.elements["__csrf"]?.value ?? "";
  const history = []; // earlier turns: {role, content}
  let controller = null;
  let lastSent = null; // the body of the last call, which the curl shows until a new message is written

  function request(withPrompt = true) {
    const messages = [];
    const system = field("System").value.trim();
    if (system) messages.push({ role: "system", content: system });
    messages.push(...history);
    const prompt = field("Prompt").value;
    if (withPrompt) messages.push({ role: "user", content: prompt || "Hello!" });
    const body = { model: field("Model").value, messages };
    const temperature = field("Temperature").value;
    if (temperature !== "" && Number(temperature) >= 0 && Number(temperature) <= 2) body.temperature = Number(temperature);
    const maxTokens = parseInt(field("MaxTokens").value, 10);
    if (maxTokens > 0) body.max_tokens = maxTokens;
    if (field("Stream").checked) body.stream = true;
    return body;
  }

  function updateCurl() {
    const body = field("Prompt").value === "" && lastSent ? lastSent : request();
    const json = JSON.stringify(body, null, 2).replaceAll("'", "'\\''");
    curl.textContent =
      `curl ${root.dataset.baseUrl}/api/v1/chat/completions \\\n` +
      `  -H "Authorization: Bearer $TOLLGATE_API_KEY" \\\n` +
      `  -H "Content-Type: application/json" \\\n` +
      (body.stream ? "  -N \\\n" : "") +
      `  -d '${json}'`;
  }

  function bubble(role, text) {
    root.querySelector("[data-playground-empty]")?.remove();
    const message = document.createElement("div");
    message.className = `message ${role}`;
    const label = document.createElement("span");
    label.className = "role";
    label.textContent = role;
    const content = document.createElement("span");
    content.className = "message-text";
    content.textContent = text;
    message.append(label, content);
    transcript.append(message);
    return content;
  }

  function showError(text) {
    errorBox.textContent = text;
    errorBox.hidden = false;
  }

  async function errorOf(response) {
    if ((response.headers.get("content-type") ?? "").includes("text/html")) {
      return "Your session ended: reload the page and sign in again.";
    }
    try {
      const body = await response.json();
      return body?.error?.message ?? `The call failed (${response.status}).`;
    } catch {
      return `The call failed (${response.status}).`;
    }
  }

  function showMeta(response, usage) {
    const id = response.headers.get("x-generation-id");
    meta.textContent = "";
    if (usage) {
      const cost = typeof usage.cost === "number" ? ` · $${usage.cost.toPrecision(4).replace(/\.?0+$/, "")}` : "";
      meta.append(`${usage.prompt_tokens} tokens in, ${usage.completion_tokens} out${cost} · `);
    }
    if (id) {
      const link = document.createElement("a");
      link.href = `/usage/${encodeURIComponent(id)}`;
      link.textContent = id;
      link.dataset.testid = "playground-generation";
      meta.append("call ", link);
    }
    meta.hidden = meta.textContent === "";
  }

  async function readStream(response, content) {
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let usage = null;
    let text = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        for (const line of event.split("\n")) {
          if (!line.startsWith("data:")) continue;
          const data = line.slice(5).trim();
          if (data === "[DONE]") continue;
          const chunk = JSON.parse(data);
          if (chunk.error) throw new Error(chunk.error.message ?? "The upstream failed mid-answer.");
          const delta = chunk.choices?.[0]?.delta?.content;
          if (delta) {
            text += delta;
            content.textContent = text;
          }
          if (chunk.usage) usage = chunk.usage;
        }
      }
    }
    return { text, usage };
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (controller) {
      controller.abort(); // "Stop"
      return;
    }
    errorBox.hidden = true;
    meta.hidden = true;
    const body = request();
    lastSent = body;
    const prompt = body.messages[body.messages.length - 1].content;
    bubble("user", prompt);
    const content = bubble("assistant", "…");
    controller = new AbortController();
    send.lastChild.textContent = " Stop";
    try {
      const response = await fetch(root.dataset.chatPath, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json, text/event-stream", "X-CSRF-Token": token },
        body: JSON.stringify(body),
        signal: controller.signal,
        credentials: "same-origin",
      });
      if (!response.ok || response.redirected) {
        content.closest(".message").remove();
        showError(await errorOf(response));
        return;
      }
      let answer;
      if (body.stream) {
        answer = await readStream(response, content);
      } else {
        const json = await response.json();
        answer = { text: json.choices?.[0]?.message?.content ?? "", usage: json.usage };
        content.textContent = answer.text;
      }
      if (!answer.text) content.textContent = "(no text in the answer)";
      history.push({ role: "user", content: prompt }, { role: "assistant", content: answer.text });
      field("Prompt").value = "";
      showMeta(response, answer.usage);
    } catch (error) {
      if (error.name === "AbortError") {
        content.textContent += " [stopped]";
      } else {
        showError(error.message || "The call failed.");
      }
    } finally {
      controller = null;
      send.lastChild.textContent = " Send";
      updateCurl();
    }
  });

  root.querySelector("[data-playground-clear]")?.addEventListener("click", () => {
    history.length = 0;
    lastSent = null;
    transcript.replaceChildren();
    errorBox.hidden = true;
    meta.hidden = true;
    updateCurl();
  });

  form.addEventListener("input", updateCurl);
  form.addEventListener("change", updateCurl);
  field("Prompt").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
  });
  updateCurl();
})();
