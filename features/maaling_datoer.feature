# language: da
Egenskab: Holdenes måledatoer, og hvem der skal give nyt samtykke hvornår
  Betalingsmålingen sammenligner registerdata 1-2 år før og 1-2 år efter henvisningen. Hvert
  hold måles efter 1 år og efter 2 år ("Hold 2:2" er 2-års-målingen af Hold 2). Ét udtræk
  dækker hele holdet, så det kan først tages, når den sidste på holdet har haft hele
  opfølgningen: udtræksdatoen er dagen efter holdets sidste startdato plus 1 eller 2 år
  (regelfilen policies/cohorts.yaml).
  Et journalsamtykke gælder i ét år (sundhedsloven § 44, stk. 2). En borger, hvis samtykke
  udløber før målingens dato, kommer kun med i udtrækket, hvis borgeren giver nyt samtykke,
  før det gamle udløber. Den dataansvarlige ser borgerne under et pseudonym, der kun gælder
  for den ene måling; navigatøren har navnene og opgaven på sin arbejdsliste.
  Den dataansvarlige kan flytte en målings dato med en begrundelse; ændringen logges.

  Regel: Udtræksdatoen følger af holdets sidste startdato

    Abstrakt Scenario: Den planlagte udtræksdato for <måling>
      Når den dataansvarlige ser dækningen af alle målinger den 1. juni 2027
      Så er <måling> planlagt til den <dato>

      Eksempler:
        | måling   | dato            |
        | Hold 1:1 | 1. oktober 2027 |
        | Hold 1:2 | 1. oktober 2028 |
        | Hold 2:1 | 1. maj 2028     |
        | Hold 2:2 | 1. maj 2029     |
        | Hold 3:1 | 1. januar 2029  |
        | Hold 3:2 | 1. januar 2030  |

    Scenarie: Målinger efter projektets afslutning er markeret
      Når den dataansvarlige ser dækningen af alle målinger den 1. juni 2027
      Så er Hold 1:1 og Hold 2:1 før projektets afslutning den 30. juni 2028
      Og er Hold 1:2, Hold 2:2, Hold 3:1 og Hold 3:2 markeret med høj risiko, fordi data slettes ved projektets afslutning

  Regel: Den, hvis samtykke udløber før målingens dato, skal give nyt samtykke, før det udløber

    Scenarie: En borger på Hold 2 skal give nyt samtykke før Hold 2:2
      Givet en borger henvist til Hold 2 den 2. november 2026
      Og borgerens journalsamtykke er underskrevet og indført i journalen den 10. november 2026
      Når den dataansvarlige ser dækningen af Hold 2:2 den 1. juni 2027
      Så er borgeren dækket i dag, men ikke på udtræksdatoen den 1. maj 2029
      Og skal borgeren give nyt samtykke senest den 9. november 2027
      Og står borgeren under et pseudonym, ikke under navn, CPR-nummer eller navigatørens id
      Og har borgeren et andet pseudonym på Hold 2:1
      Når samtykkeservicen planlægger navigatørens opgaver den 10. september 2027
      Så har navigatøren opgaven "Nyt journalsamtykke" med frist den 9. november 2027 på arbejdslisten

    Scenarie: Et samtykke underskrevet efter holdets sidste startdato dækker 1-års-målingen
      Givet en borger henvist til Hold 2 den 30. april 2027
      Og borgerens journalsamtykke er underskrevet og indført i journalen den 10. maj 2027
      Når den dataansvarlige ser dækningen af Hold 2:1 den 1. juni 2027
      Så er borgeren dækket på udtræksdatoen den 1. maj 2028
      Og skal ingen give nyt samtykke før Hold 2:1

    Scenarie: Et samtykke underskrevet på henvisningsdagen udløber før 1-års-målingen
      Givet en borger henvist til Hold 2 den 30. april 2027
      Og borgerens journalsamtykke er underskrevet og indført i journalen den 30. april 2027
      Når den dataansvarlige ser dækningen af Hold 2:1 den 1. juni 2027
      Så er borgeren dækket i dag, men ikke på udtræksdatoen den 1. maj 2028
      Og skal borgeren give nyt samtykke senest den 29. april 2028

  Regel: Den dataansvarlige kan flytte en målings dato med en begrundelse

    Scenarie: En tidligere dato gør et nyt samtykke unødvendigt
      Givet en borger henvist til Hold 2 den 2. november 2026
      Og borgerens journalsamtykke er underskrevet og indført i journalen den 10. november 2026
      Og den dataansvarlige har flyttet Hold 2:1 til den 1. november 2027 med begrundelsen "Aftalt med registerejeren"
      Når den dataansvarlige ser dækningen af Hold 2:1 den 1. juni 2027
      Så er borgeren dækket på udtræksdatoen den 1. november 2027
      Og skal ingen give nyt samtykke før Hold 2:1
      Og er flytningen logget uden begrundelsens tekst
