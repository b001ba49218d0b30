"""Debian's Chromium, headless, driven over the Chrome DevTools protocol (websocket-client).

For tests of pages served on this machine: it loads a page, collects what the page reports as an
error (uncaught exceptions, console errors, failed loads) and takes a screenshot. The machine's
network is closed, so requests that leave it (a web font, a page's telemetry) are answered
locally with an empty response rather than left to fail.
"""
import base64
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import websocket

CHROMIUM = 'chromium'
FLAGS = ('--headless', '--no-sandbox', '--disable-gpu', '--use-angle=swiftshader',
         '--enable-unsafe-swiftshader', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--no-first-run',
         '--remote-debugging-port=0')
OFF_MACHINE = 'https://*'  # the pages under test are served over http on this machine
EMPTY_REPLY = [{'name': 'Access-Control-Allow-Origin', 'value': '*'},
               {'name': 'Access-Control-Allow-Headers', 'value': '*'},
               {'name': 'Access-Control-Allow-Methods', 'value': '*'}]


def available() -> bool:
    """Whether Chromium is installed (scripts/setup_test_browser.sh installs it)."""
    return shutil.which(CHROMIUM) is not None


class HeadlessBrowser:
    """One Chromium with a fresh profile and one page; use it as a context manager."""

    def __init__(self, width: int = 1600, height: int = 900):
        self._profile = Path(tempfile.mkdtemp(prefix='chromium_profile_'))
        self._process = subprocess.Popen(
            [shutil.which(CHROMIUM), *FLAGS, f'--user-data-dir={self._profile}',
             f'--window-size={width},{height}', 'about:blank'],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.errors = []  # what the page reported as errors, as readable lines
        self.off_machine = []  # URLs the page asked for outside this machine
        self._ids = iter(range(1, 1 << 30))
        self._socket = websocket.create_connection(self._page_socket(), timeout=60)
        for domain in ('Page', 'Runtime', 'Log'):
            self._call(f'{domain}.enable')
        self._call('Fetch.enable', patterns=[{'urlPattern': OFF_MACHINE}])
        self._call('Emulation.setDeviceMetricsOverride', width=width, height=height,
                   deviceScaleFactor=1, mobile=False)

    def _page_socket(self) -> str:
        """The DevTools websocket address of the browser's page."""
        port_file = self._profile / 'DevToolsActivePort'
        deadline = time.monotonic() + 30.0
        while not (port_file.is_file() and len(port_file.read_text().split()) >= 2):
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError('chromium did not start its DevTools server')
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        with urllib.request.urlopen(f'http://127.0.0.1:{port}/json/list', timeout=10) as reply:
            targets = json.load(reply)
        return next(t['webSocketDebuggerUrl'] for t in targets if t['type'] == 'page')

    def _call(self, method: str, **params) -> dict:
        """Send one DevTools command and return its result, handling events meanwhile."""
        call_id = next(self._ids)
        self._socket.send(json.dumps({'id': call_id, 'method': method, 'params': params}))
        while True:
            message = json.loads(self._socket.recv())
            if message.get('id') == call_id:
                if 'error' in message:
                    raise RuntimeError(f'{method}: {message["error"]}')
                return message.get('result', {})
            self._event(message)

    def _event(self, message: dict):
        method, params = message.get('method'), message.get('params', {})
        if method == 'Fetch.requestPaused':
            self.off_machine.append(params['request']['url'])
            self._socket.send(json.dumps({
                'id': next(self._ids), 'method': 'Fetch.fulfillRequest',
                'params': {'requestId': params['requestId'], 'responseCode': 200,
                           'responseHeaders': EMPTY_REPLY,
                           'body': base64.b64encode(b'[]').decode()}}))
        elif method == 'Runtime.exceptionThrown':
            details = params['exceptionDetails']
            self.errors.append('exception: ' + details.get('exception', {}).get(
                'description', details.get('text', '')))
        elif method == 'Runtime.consoleAPICalled' and params['type'] == 'error':
            self.errors.append('console: ' + ' '.join(
                str(a.get('value', a.get('description', ''))) for a in params['args']))
        elif method == 'Log.entryAdded' and params['entry']['level'] == 'error':
            entry = params['entry']
            self.errors.append(f'{entry["source"]}: {entry["text"]} {entry.get("url", "")}')

    def open(self, url: str):
        """Load `url`; raises if it cannot be loaded at all."""
        result = self._call('Page.navigate', url=url)
        if result.get('errorText'):
            raise RuntimeError(f'{url}: {result["errorText"]}')

    def wait(self, seconds: float):
        """Let the page run for `seconds`, collecting what it reports."""
        deadline = time.monotonic() + seconds
        self._socket.settimeout(0.2)
        try:
            while time.monotonic() < deadline:
                try:
                    self._event(json.loads(self._socket.recv()))
                except websocket.WebSocketTimeoutException:
                    pass
        finally:
            self._socket.settimeout(60)

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page."""
        return self._call('Runtime.evaluate', expression=expression,
                          returnByValue=True)['result'].get('value')

    def screenshot(self) -> bytes:
        """A PNG of the page as it is now."""
        return base64.b64decode(self._call('Page.captureScreenshot', format='png')['data'])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Quit Chromium and remove its profile."""
        try:
            self._socket.close()
        finally:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
            shutil.rmtree(self._profile, ignore_errors=True)
