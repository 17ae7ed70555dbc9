import { describe, expect, it } from 'vitest';
import { createLogLineFormat } from './log-format.js';

describe('log line format', () => {
  it('splits a Loghub HDFS line into its header fields and content', () => {
    const format = createLogLineFormat('<Date> <Time> <Pid> <Level> <Component>: <Content>');
    expect(format.fields).toEqual(['Date', 'Time', 'Pid', 'Level', 'Component', 'Content']);
    expect(format.parse('081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660 terminating\r')).toEqual({
      Date: '081109',
      Time: '203615',
      Pid: '148',
      Level: 'INFO',
      Component: 'dfs.DataNode$PacketResponder',
      Content: 'PacketResponder 1 for block blk_38865049064139660 terminating',
    });
  });

  it('treats runs of spaces as any whitespace and the text between fields as a pattern', () => {
    // Zookeeper: two spaces after the level, escaped brackets, fields separated by ':' and '@'.
    const zookeeper = createLogLineFormat('<Date> <Time> - <Level>  \\[<Node>:<Component>@<Id>\\] - <Content>');
    expect(zookeeper.parse('2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774] - Notification time out: 3200')).toEqual({
      Date: '2015-07-29',
      Time: '17:41:44,747',
      Level: 'INFO',
      Node: 'QuorumPeer[myid=1]/0',
      Component: '0:0:0:0:0:0:0:2181:FastLeaderElection',
      Id: '774',
      Content: 'Notification time out: 3200',
    });
    // Thunderbird: an optional [PID] part; a field that did not match is absent.
    const thunderbird = createLogLineFormat('<Label> <Timestamp> <Date> <User> <Month> <Day> <Time> <Location> <Component>(\\[<PID>\\])?: <Content>');
    expect(thunderbird.parse('- 1131566461 2005.11.09 dn228 Nov 9 12:01:01 dn228/dn228 crond(pam_unix)[2915]: session closed for user root')).toMatchObject({ Component: 'crond(pam_unix)', PID: '2915', Content: 'session closed for user root' });
    const noPid = thunderbird.parse('- 1131566461 2005.11.09 tbird-admin1 Nov 9 12:01:01 local@tbird-admin1 /apps/x/y: (root) CMD (run-parts /etc/cron.hourly)');
    expect(noPid).toMatchObject({ Component: '/apps/x/y', Content: '(root) CMD (run-parts /etc/cron.hourly)' });
    expect(noPid).not.toHaveProperty('PID');
  });

  it('says when a line does not match', () => {
    expect(createLogLineFormat('<Date> <Time> <Level> \\[<Process>\\] <Component>: <Content>').parse('no header here')).toBeUndefined();
  });

  it('rejects a format without fields, with a bad or repeated field name, or that is not a pattern', () => {
    expect(() => createLogLineFormat('just text')).toThrow(expect.objectContaining({ code: 'INPUT_INVALID' }));
    expect(() => createLogLineFormat('<Date> <Not a name> <Content>')).toThrow(/not a valid name/);
    expect(() => createLogLineFormat('<Date> <Date> <Content>')).toThrow(/twice/);
    expect(() => createLogLineFormat('<Date> [<Content>')).toThrow(/escape literal brackets/);
  });
});
