#!/usr/bin/env python3
"""Renders the chat-template test cases with Python's Jinja2, set up as Hugging Face's apply_chat_template sets it
up (a sandboxed environment with trim_blocks and lstrip_blocks, raise_exception, tojson as json.dumps), and writes
them with their expected output for ChatTemplateTest. The templates are written for the test in the styles of
common instruct formats; run this again after changing them:

    python3 tools/chat-template-cases/render.py > model/src/test/resources/chat-templates/cases.json
"""
import json
import sys

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

TEMPLATES = {
    "inst": (
        "{{ bos_token }}{% for m in messages %}"
        "{% if (m.role == 'user') != (loop.index0 is even) %}{{ raise_exception('turns must alternate, user first') }}{% endif %}"
        "{% if m.role == 'user' %}{{ '[INST] ' ~ m.content | trim ~ ' [/INST]' }}"
        "{% else %}{{ ' ' + m.content + eos_token }}{% endif %}{% endfor %}"
    ),
    "inst-system": """{%- if messages and messages[0].role == 'system' %}
    {%- set system = messages[0].content %}
    {%- set turns = messages[1:] %}
{%- else %}
    {%- set turns = messages %}
{%- endif %}
{{- bos_token }}
{%- for m in turns %}
    {%- if m.role == 'user' %}
        {%- if loop.first and system is defined %}
{{ '[INST] ' + system + '\\n\\n' + m.content + ' [/INST]' }}
        {%- else %}
{{ '[INST] ' + m.content + ' [/INST]' }}
        {%- endif %}
    {%- elif m.role == 'assistant' %}
        {{- ' ' + m.content.strip() + eos_token }}
    {%- else %}
        {{- raise_exception('no role ' ~ m.role | tojson) }}
    {%- endif %}
{%- endfor %}
""",
    "tagged": """{% for message in messages %}
    {% if loop.first and message['role'] != 'system' %}
<|im_start|>system
You are a helpful assistant.<|im_end|>
    {% endif %}
<|im_start|>{{ message['role'] }}
{{ message['content'] }}<|im_end|>
{% endfor %}
{% if add_generation_prompt %}
<|im_start|>assistant
{% endif %}
""",
    "features": """{# counts turns with a namespace #}
{% set ns = namespace(users=0, last='') %}
{% for m in messages if m.role in ['user', 'assistant'] %}
{% set ns.users = ns.users + (1 if m.role == 'user' else 0) %}
{% set ns.last = m.role %}
{{ loop.index }}/{{ loop.length }} {{ m.role | upper }}{{ ': ' ~ m.content[:20] }}{{ '...' if m.content | length > 20 }}{% if not loop.last %} | {% endif %}
{% else %}
(nothing)
{% endfor %}
users={{ ns.users }} last={{ ns.last | default('none', true) }} {{ {'a': 1, 'b': [true, none, 'q"']} | tojson }}
    {%+ if add_generation_prompt %}  >{% endif %}
{% for k, v in {'x': 1, 'y': 2}.items() %}{{ k }}={{ v * 2 - 1 }}{{ ',' if not loop.last }}{% endfor %}

{{ 7 // 2 }} {{ -7 % 3 }} {{ 2 * 'ab' }} {{ 'Hello World'.lower().split(' ') | join('-') }} {{ messages | length is odd }}
{{ messages[-1].content | title if messages else 'none' }} {{ 'x' in 'xyz' and not 'w' in 'xyz' }} {{ [1, 2] + [3] }}
{%- for i in range(3) %} {{ loop.revindex0 }}{{ i ~ '' }}{% endfor %}
""",
    "selected": """{%- set system = messages | selectattr('role', 'equalto', 'system') | map(attribute='content') | list %}
{%- set turns = messages | rejectattr('role', 'equalto', 'system') | list %}
{{- bos_token }}
{%- if system %}[SYS]{{ system | join(' ') }}[/SYS]{% endif %}
{%- for m in turns %}
    {%- if m.role == 'user' %}
        {{- '[INST]' + m.content + '[/INST]' }}
    {%- else %}
        {{- m.content + eos_token }}
    {%- endif %}
{%- endfor %}
{{- ' ' ~ (messages | selectattr('content') | list | length) ~ ' with content, roles ' ~ (messages | map(attribute='role') | reject('equalto', 'user') | join(',')) }}
""",
}

MESSAGES = {
    "one": [{"role": "user", "content": "Hello"}],
    "three": [
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "  And 3+3?  "},
    ],
    "system": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": " Hello! "},
        {"role": "user", "content": "Bye"},
    ],
    "assistant-first": [{"role": "assistant", "content": "I start"}],
    "tool": [{"role": "user", "content": "x"}, {"role": "tool", "content": "y"}],
    "empty": [],
    "long": [{"role": "user", "content": "a rather long question about sparse decoding"}],
}


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def main():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    cases = []
    for name, source in TEMPLATES.items():
        template = env.from_string(source)
        for messages_name, messages in MESSAGES.items():
            for prompt in (False, True):
                case = {"template": name, "messages": messages_name, "add_generation_prompt": prompt}
                try:
                    case["expected"] = template.render(messages=messages, bos_token="<s>", eos_token="</s>",
                                                       add_generation_prompt=prompt)
                except jinja2.exceptions.TemplateError as e:
                    case["error"] = str(e)
                cases.append(case)
    json.dump({"generator": "tools/chat-template-cases/render.py, Jinja2 " + jinja2.__version__,
               "templates": TEMPLATES, "messages": MESSAGES, "cases": cases}, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
