# language: da
Egenskab: En henvisning uden for målgruppen giver en advarsel, ikke en afvisning
  Projektbeskrivelsen (Målgruppe): borgeren bor i Norddjurs Kommune eller har læge dér,
  kan kontaktes på telefon eller e-mail, og kun borgere på 18 år og derover indgår i
  dataindsamlingen; yngre borgere kan stadig få tilbuddet om en social navigatør.
  Navigatøren vurderer målgruppen, når hun ringer borgeren op. Henviseren får derfor en
  advarsel, før henvisningen sendes, når et kriterium ikke er krydset af, eller når
  borgeren er under 18 år på henvisningsdagen (udregnet af CPR-nummeret), og kan sende
  henvisningen alligevel.

  Regel: Hvert kriterium, der mangler, giver sin egen advarsel

    Abstrakt Scenario: Norddjurs <norddjurs>, kontakt <kontakt>, født <født>
      Givet en henvisning den 23. november 2026 af en borger født den <født>
      Og "Bor i Norddjurs eller har læge i Norddjurs" er <norddjurs>
      Og "Kan kontaktes på telefon eller e-mail" er <kontakt>
      Så advares henviseren om <advarsler>

      Eksempler:
        | norddjurs       | kontakt         | født              | advarsler             |
        | krydset af      | krydset af      | 9. marts 1958     | intet                 |
        | ikke krydset af | krydset af      | 9. marts 1958     | bopæl                 |
        | krydset af      | ikke krydset af | 9. marts 1958     | kontakt               |
        | krydset af      | krydset af      | 3. marts 2010     | alder                 |
        | krydset af      | krydset af      | 23. november 2008 | intet                 |
        | ikke krydset af | ikke krydset af | 24. november 2008 | bopæl, kontakt, alder |
