import { describe, expect, it } from 'vitest';
import { readLiveXml } from '../src/liveXml.ts';

// Trimmed from `virsh dumpxml` of a running guest under QEMU 7.2 / libvirt 9.0 on this kind of machine.
const live = `<domain type='qemu' id='7'>
  <name>cps-t-0123abcd</name>
  <uuid>fa0bf121-01e3-4c02-aa4c-6e404da3b791</uuid>
  <title>a &lt;b&gt; &amp; &quot;c&quot; &apos;d&apos;</title>
  <description>CPS guest of task t-0123abcd</description>
  <metadata>
    <cps:task xmlns:cps="urn:cps:task:1" id="t-0123abcd" spec="0123456789abcdef"/>
  </metadata>
  <devices>
    <serial type='pty'>
      <source path='/dev/pts/1'/>
      <log file='/var/lib/cps/logs/t-0123abcd.serial' append='off'/>
      <target type='isa-serial' port='0'><model name='isa-serial'/></target>
      <alias name='serial0'/>
    </serial>
    <console type='pty' tty='/dev/pts/1'>
      <source path='/dev/pts/1'/>
      <target type='serial' port='0'/>
    </console>
    <graphics type='vnc' port='5901' autoport='yes' listen='127.0.0.1'>
      <listen type='address' address='127.0.0.1'/>
    </graphics>
  </devices>
</domain>`;

describe('readLiveXml', () => {
  it('reads title, task, VNC port and serial pty from a live domain', () => {
    expect(readLiveXml(live)).toEqual({
      type: 'qemu',
      name: 'cps-t-0123abcd',
      uuid: 'fa0bf121-01e3-4c02-aa4c-6e404da3b791',
      title: `a <b> & "c" 'd'`,
      task: { id: 't-0123abcd', spec: '0123456789abcdef' },
      vncPort: 5901,
      vncListen: '127.0.0.1',
      serialPty: '/dev/pts/1',
    });
  });

  it.each([
    ['600', 600],
    ['0', undefined],
    ['-5', undefined],
    ['1.5', undefined],
    ['six hundred', undefined],
    ['', undefined],
  ])('reads checkpointEverySec="%s" from our metadata as %s', (value, want) => {
    const facts = readLiveXml(live.replace('spec="0123456789abcdef"', `spec="0123456789abcdef" checkpointEverySec="${value}"`));
    expect(facts.task?.checkpointEverySec).toBe(want);
  });

  it('reads the VNC password only where libvirt put it (SECURE XML)', () => {
    expect(readLiveXml(live).vncPassword).toBeUndefined();
    expect(readLiveXml(live.replace("listen='127.0.0.1'>", "listen='127.0.0.1' passwd='Ab3dE6gH'>")).vncPassword).toBe('Ab3dE6gH');
  });

  it('has no VNC port while libvirt has not assigned one (autoport -1)', () => {
    expect(readLiveXml(live.replace("port='5901'", "port='-1'")).vncPort).toBeUndefined();
  });

  it('does not take a cps:task element in another namespace for ours', () => {
    expect(readLiveXml(live.replace('urn:cps:task:1', 'urn:evil')).task).toBeUndefined();
  });

  it('knows a domain without our metadata is not ours', () => {
    expect(readLiveXml("<domain type='kvm'><name>cps-x</name></domain>")).toMatchObject({ type: 'kvm', task: undefined, title: undefined });
  });

  it('does not decode an entity twice', () => {
    expect(readLiveXml("<domain type='qemu'><title>&amp;lt;x&amp;gt; &amp;#10;</title></domain>").title).toBe('&lt;x&gt; &#10;');
  });
});
